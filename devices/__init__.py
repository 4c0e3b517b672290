"""Pure decoders: bytes and payloads from wearables into typed sample frames.

Imports nothing that touches radios, brokers or databases.
"""

from devices.errors import AdherenceError, DecodeError, FrameError
from devices.frame import STREAM_SPECS, Frame, StreamKind, make_frame

__all__ = [
    "STREAM_SPECS",
    "AdherenceError",
    "DecodeError",
    "Frame",
    "FrameError",
    "StreamKind",
    "make_frame",
]
