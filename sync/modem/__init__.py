"""The cellular modem: AT commands over pyserial, its status, and the SMS heartbeat."""
