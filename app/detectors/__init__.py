"""Detectors: the pipeline's own signals judged against the playbook's detection rules."""
