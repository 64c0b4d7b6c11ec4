"""The ASGI entry point: the API with every installed app (``uvicorn shipml.main:app``)."""

from shipml.apps import installed
from shipml.core.api import create_app

app = create_app(installed())
