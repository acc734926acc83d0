"""Player identity: logins, access and refresh tokens, signing keys and their rotation."""
