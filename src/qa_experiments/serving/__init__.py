"""Serving a trained model over HTTP (`qa-serve`): the FastAPI application, the micro-batcher
that groups concurrent requests for the model, and the web page. Imports `inference` and the
layers below."""
