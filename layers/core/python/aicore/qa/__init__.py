"""Synthetic-player QA: scenarios as data, players that use only the public protocol, checks, reports."""
