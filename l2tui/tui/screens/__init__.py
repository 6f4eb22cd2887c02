"""Modal screens: preview, confirm, device-code sign-in, error."""
