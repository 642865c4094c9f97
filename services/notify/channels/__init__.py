"""Delivery channels of the notify service: email, printed letter, SMS/Zalo webhook."""
