"""What every web feature shares: the request's database connection, errors,
languages, security headers, rate limits, page cursors and audit recording."""
