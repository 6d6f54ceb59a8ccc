//! What the demo's people say besides FAQ questions and form answers, and what their managers
//! reply.

/// Off-topic questions in themes (an editor should see these as gap groups), with weights.
pub(super) const OFF_TOPIC: &[(u32, &[&str])] = &[
    (
        6,
        &[
            "how do I get a parking permit",
            "parking permit for the office car park",
            "where do I apply for a car park space",
            "can I get a parking space at head office",
            "car parking pass application",
        ],
    ),
    (
        4,
        &[
            "what's on the canteen menu today",
            "canteen opening hours",
            "is the canteen open on friday",
            "canteen menu this week",
        ],
    ),
    (
        3,
        &[
            "is there a cycle to work scheme",
            "how do I join the cycle to work scheme",
            "cycle scheme bike voucher",
        ],
    ),
    (
        3,
        &[
            "can I claim for an eye test",
            "eye test vouchers for screen users",
            "do we get free eye tests",
        ],
    ),
    (
        2,
        &[
            "what is the guest wifi code for visitors",
            "guest wifi for visitors in reception",
        ],
    ),
    (
        2,
        &[
            "what will the weather be like tomorrow",
            "recommend a good pizza place nearby",
            "who won the football last night",
            "tell me a joke about accountants",
        ],
    ),
];

pub(super) const HUMAN: &[&str] = &[
    "I want to talk to a real person please",
    "can I speak to someone",
    "put me through to a human",
    "I need to talk to my account manager",
];

pub(super) const STATUS: &[&str] = &[
    "what are my open requests",
    "show my open requests",
    "any update on my requests?",
];

pub(super) const SMALLTALK: &[&str] = &["hello", "thanks", "good morning", "thank you, bye"];

pub(super) const COMMENTS: &[&str] = &[
    "Quick and clear, thanks",
    "Took a while to get there",
    "Very helpful",
    "The answer was a bit long",
];

pub(super) const MANAGER_REPLIES: &[&str] = &[
    "Thanks for flagging this. I'm looking into it now and will come back to you today.",
    "I've checked with the team: this is in hand, you'll get a confirmation by email.",
    "Sorry for the trouble. I've asked the specialist team to call you this afternoon.",
];

/// The SSO's staff who work the requests (the back office's users, by email).
pub(super) const AGENTS: &[&str] = &[
    "dana.ward@northwind.example",
    "li.chen@northwind.example",
    "sam.okafor@northwind.example",
    "maria.lopez@northwind.example",
    "ben.hughes@northwind.example",
];

/// What the SSO asks a client about their request, and what the client answers.
pub(super) const QUESTIONS: &[(&str, &str)] = &[
    (
        "Could you confirm the cost centre this should be charged to?",
        "Cost centre 4410, thanks",
    ),
    (
        "Which legal entity is this for: the UK company or the Irish one?",
        "The UK company",
    ),
    (
        "We need the supplier's bank confirmation letter. Can you send it to ap@northwind.example?",
        "Just emailed it over",
    ),
    (
        "Is the start date you gave still right?",
        "Yes, still the same date",
    ),
    (
        "Who on your side approves this?",
        "My manager, Jo Patel, has approved it",
    ),
    (
        "The amount doesn't match the quote attached. Which one is right?",
        "The quote is right, sorry about that",
    ),
];

/// Completion notes.
pub(super) const DONE_NOTES: &[&str] = &[
    "All set up. You'll get a confirmation email shortly.",
    "Done. The details are in the system now.",
    "Completed and checked.",
    "Processed; the reference is on the confirmation email.",
];

/// Why a request is cancelled.
pub(super) const CANCEL_REASONS: &[&str] = &[
    "Duplicate of an earlier request.",
    "The client withdrew it: no longer needed.",
    "Raised with the wrong service; please use the purchase order form.",
];

/// Cancelled after the client did not answer the SSO's question.
pub(super) const NO_ANSWER: &str = "We did not hear back about our question, so we have closed it.";

/// Why a completed request comes back.
pub(super) const REOPEN_REASONS: &[&str] = &[
    "The client says it is still not right.",
    "One item was missed.",
    "The confirmation went to the wrong person.",
];
