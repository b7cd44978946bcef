"""Serving a trained model over HTTP (`qa-serve`): the FastAPI application, the batcher that
groups concurrent requests for the model and keeps long ones from holding back short ones, and
the web page. Imports `inference` and the layers below."""
