"""Hardware in the loop: codecs (bytes <-> hil.messages), transports and links (serial, CAN), rig emulator."""
