"""HTTP and websocket handlers: translation between requests and the services, nothing more."""
