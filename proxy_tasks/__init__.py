"""optsearch: proxy_tasks."""
