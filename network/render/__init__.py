"""Multi-vendor rendering: device intent -> configuration text (see docs/templates.md)."""

from network.render.engine import render_device, render_many
from network.render.errors import RenderError
from network.render.platforms import PLATFORMS

__all__ = ["PLATFORMS", "RenderError", "render_device", "render_many"]
