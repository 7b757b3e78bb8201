"""Django apps of {{ cookiecutter.project_slug }}; __version__ is the default RELEASE_VERSION."""

__version__ = "0.1.0"
