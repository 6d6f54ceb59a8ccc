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
