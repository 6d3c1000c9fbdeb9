"""trio-supervise: a daemontools-compatible supervisor.

This file imports nothing on purpose: the clients import the pure codec modules
(`supervise.tai`, `supervise.status`, `supervise.control`) and must not pay for
trio, which only the daemon modules import.
"""
