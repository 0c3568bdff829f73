"""The server-rendered web portal (issue 7): pages at /, its own assets at /static/."""
