"""Easel's web pages, served by the same aiohttp app as the health endpoint: the paint page
(``bot.web.paint``), its signed one-use links (``bot.web.tokens``, ``bot.web.links``) and the
plain HTML, CSS and JavaScript it ships in ``static/``. No Discord types here."""
