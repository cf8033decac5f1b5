"""The teaching notebook (explorer/notebooks/) and its parameters check."""
