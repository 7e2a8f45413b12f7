"""Sources: the connector instances of an event, their health and their dead letters."""
