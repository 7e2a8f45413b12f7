"""Imports every model so the metadata (and Alembic) sees all tables."""

from app.audit.models import AuditLog
from app.auth.models import ApiToken, User
from app.chat.models import ChatMessage, ModerationAction
from app.chat.rules_model import ModerationRules
from app.cues.models import Cue, CueSheet
from app.db import Base
from app.events.models import Event, EventMember, Source
from app.idempotency.models import IdempotencyKey
from app.incidents.models import DetectorSignal, Incident, IncidentRole, IncidentStep, TimelineEntry
from app.metrics.models import MetricSample
from app.playbooks.models import Playbook, PlaybookEntry
from app.polls.models import Poll, PollOption, Vote
from app.presence.models import PresenceEvent
from app.questions.models import Question, QuestionVote

__all__ = [
    "ApiToken",
    "AuditLog",
    "Base",
    "ChatMessage",
    "Cue",
    "CueSheet",
    "DetectorSignal",
    "Event",
    "EventMember",
    "IdempotencyKey",
    "Incident",
    "IncidentRole",
    "IncidentStep",
    "MetricSample",
    "ModerationAction",
    "ModerationRules",
    "Playbook",
    "PlaybookEntry",
    "Poll",
    "PollOption",
    "PresenceEvent",
    "Question",
    "QuestionVote",
    "Source",
    "TimelineEntry",
    "User",
    "Vote",
]
