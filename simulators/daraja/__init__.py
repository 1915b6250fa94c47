"""A Safaricom Daraja (M-Pesa STK push) simulator: a real HTTP server. See README.md beside this file."""
