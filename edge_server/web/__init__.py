"""The web base both apps share: sessions and sign-in, role checks, error pages and the JSON
error shape, Khmer and English, the page layout with its templates and static files."""
