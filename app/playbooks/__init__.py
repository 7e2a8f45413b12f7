"""The contingency playbook: what can go wrong, how to spot it, who does what."""
