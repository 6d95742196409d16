"""The web app (built with Vite), served by the API."""
