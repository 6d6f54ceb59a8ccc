//! The people of the shipped clients, as the demo data plays them.

/// The people of each shipped client (name, preferred channel).
pub const PEOPLE: &[(&str, &[(&str, &str)])] = &[
    (
        "ACME",
        &[
            ("Ann Lee", "web"),
            ("Raj Patel", "web"),
            ("Maria Gomez", "telegram"),
            ("Tom Hughes", "web"),
            ("Sofia Rossi", "discord"),
            ("James O'Neill", "web"),
            ("Li Wei", "web"),
            ("Hannah Brown", "telegram"),
            ("Kwame Mensah", "web"),
            ("Chloe Dubois", "web"),
        ],
    ),
    (
        "GLOBEX",
        &[
            ("Sam Ortiz", "web"),
            ("Emma Clarke", "web"),
            ("Noah Williams", "telegram"),
            ("Olivia Jones", "web"),
            ("Ahmed Khan", "discord"),
            ("Grace Taylor", "web"),
            ("Daniel Novak", "web"),
        ],
    ),
    (
        "INITECH",
        &[
            ("Lee Park", "web"),
            ("Nina Kowalski", "web"),
            ("Peter Gibbons", "discord"),
            ("Joanna Lopez", "web"),
            ("Milton Waddams", "telegram"),
        ],
    ),
];

/// A simulated person: who they are to the dialogue and the channel they prefer.
pub struct Person {
    pub name: String,
    pub email: String,
    pub channel: String,
}

/// The people of a shipped client (none for another client).
pub fn people_of(client: &str) -> Vec<Person> {
    let domain = client.to_lowercase();
    PEOPLE
        .iter()
        .find(|(c, _)| *c == client)
        .map(|(_, list)| {
            list.iter()
                .map(|(name, channel)| {
                    let email = format!(
                        "{}@{domain}.example",
                        name.to_lowercase()
                            .replace('\'', "")
                            .split(' ')
                            .collect::<Vec<_>>()
                            .join(".")
                    );
                    Person {
                        name: name.to_string(),
                        email,
                        channel: channel.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}
