"""Collectors (BLE with bleak, MQTT with paho), clock alignment and durable buffering."""
