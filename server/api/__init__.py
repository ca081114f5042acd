"""The gRPC edge: servicers, the auth and error interceptors, and the server factory."""
