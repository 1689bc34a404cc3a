"""``ttscli serve``: both engines behind HTTP and WebSocket, loaded once and kept warm."""
