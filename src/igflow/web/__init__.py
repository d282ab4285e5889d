"""Server-rendered pages (Jinja2 + htmx) for staff and patients."""
