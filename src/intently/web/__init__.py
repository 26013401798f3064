"""The dashboard's assets: one page, its script, styles and logo, served by the API
(`intently.api._web`) at `/`."""
