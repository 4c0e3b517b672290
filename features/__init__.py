"""Step and repetition counting: pure numpy/scipy, batch and streaming. No I/O."""
