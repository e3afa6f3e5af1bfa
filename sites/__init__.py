"""One module per news site; see ``scraper.sites.Site`` and the README's "Adding a site"."""
