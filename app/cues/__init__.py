"""Run-of-show: the ordered cue sheet of an event, and GO."""
