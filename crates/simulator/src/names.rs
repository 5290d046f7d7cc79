//! Names and identifiers of the simulated directory: agent first/last names, queue names, ids
//! (`q01`, `a0001`, `Team 01`), e-mail addresses and contact ids.
//!
//! Everything here is a pure function of an index (or of choices the roster draws from its seeded
//! generator), so the directory is the same for the same seed.

use jiff::civil::Date;
use wfm_model::Channel;

/// Given names agents are drawn from: mostly Swedish (the default zone is Europe/Stockholm) with
/// the mix of origins a real center has.
pub const FIRST_NAMES: &[&str] = &[
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Anders", "Emma", "Mikael", "Elin",
    "Per", "Linnea", "Oskar", "Ida", "Nils", "Maja", "Gustav", "Elsa", "Karl", "Sofia", "Ali",
    "Fatima", "Mohammed", "Leila", "Jonas", "Hanna", "David", "Julia", "Daniel", "Amanda",
    "Fredrik", "Lina", "Viktor", "Klara", "Henrik", "Ebba", "Magnus", "Frida", "Axel", "Tove",
    "Isak", "Wilma", "Hugo", "Alva", "Mats", "Sanna", "Peter", "Åsa", "Björn", "Märta", "Göran",
    "Zoran", "Ana", "Carlos", "Lucia", "Piotr", "Olga", "Yusuf", "Mei", "Kenji", "Priya", "Tom",
    "Emily",
];

/// Family names agents are drawn from.
pub const LAST_NAMES: &[&str] = &[
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Jakobsson",
    "Magnusson",
    "Lindström",
    "Olofsson",
    "Lindqvist",
    "Lindgren",
    "Berg",
    "Axelsson",
    "Bergström",
    "Lundberg",
    "Lind",
    "Lundgren",
    "Mattsson",
    "Berglund",
    "Fredriksson",
    "Sandberg",
    "Henriksson",
    "Forsberg",
    "Sjöberg",
    "Wallin",
    "Engström",
    "Eklund",
    "Danielsson",
    "Lundin",
    "Håkansson",
    "Björk",
    "Bergman",
    "Gunnarsson",
    "Holm",
    "Wikström",
    "Samuelsson",
    "Isaksson",
    "Fransson",
    "Bergqvist",
    "Nyström",
    "Holmberg",
    "Arvidsson",
    "Löfgren",
    "Söderberg",
    "Nyberg",
    "Blomqvist",
    "Claesson",
    "Nordström",
    "Hassan",
    "Nguyen",
    "Kowalski",
    "Garcia",
    "Smith",
    "Müller",
    "Rossi",
    "Yilmaz",
];

/// Queue names, in the order queues are created; beyond the list a queue is "Queue 21".
pub const QUEUE_NAMES: &[&str] = &[
    "Billing",
    "Sales",
    "Support",
    "Technical",
    "Claims",
    "Retention",
    "Orders",
    "Returns",
    "Payments",
    "Accounts",
    "Cards",
    "Loans",
    "Insurance",
    "Mortgages",
    "Onboarding",
    "Complaints",
    "Delivery",
    "Bookings",
    "Renewals",
    "Premium",
];

/// Agents per team: team leaders in contact centers typically lead 12–15 agents.
pub const TEAM_SIZE: u32 = 13;

/// The channel of queue `index` (0-based): mostly voice, every fifth queue from the fourth on is a
/// chat queue and every fifth from the fifth on an e-mail queue (4 queues: 3 voice + 1 chat).
pub fn queue_channel(index: u32) -> Channel {
    match index % 5 {
        3 => Channel::Chat,
        4 => Channel::Email,
        _ => Channel::Voice,
    }
}

/// Queue id `q01`, `q02`…, zero-padded to the width of the largest index (at least 2 digits).
pub fn queue_id(index: u32, total: u32) -> String {
    format!("q{:0width$}", index + 1, width = width(total, 2))
}

/// The display name of queue `index`: "Billing", "Technical Chat", "Claims E-mail", "Queue 21".
pub fn queue_name(index: u32) -> String {
    let base = match QUEUE_NAMES.get(index as usize) {
        Some(name) => name.to_string(),
        None => return format!("Queue {}", index + 1),
    };
    match queue_channel(index) {
        Channel::Chat => format!("{base} Chat"),
        Channel::Email => format!("{base} E-mail"),
        _ => base,
    }
}

/// Agent id `a0001`…, zero-padded to at least 4 digits.
pub fn agent_id(index: u32, total: u32) -> String {
    format!("a{:0width$}", index + 1, width = width(total, 4))
}

/// Team name `Team 01`… for agent `index`.
pub fn team_name(index: u32, total_agents: u32) -> String {
    let teams = total_agents.div_ceil(TEAM_SIZE);
    format!(
        "Team {:0width$}",
        index / TEAM_SIZE + 1,
        width = width(teams, 2)
    )
}

/// The e-mail domain of a tenant: its id in lower case, letters, digits and dashes only.
pub fn email_domain(tenant: &str) -> String {
    let mut label: String = ascii_fold(tenant)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    label = label.trim_matches('-').to_string();
    if label.is_empty() {
        label.push_str("contact-center");
    }
    format!("{label}.example.com")
}

/// The local part of an e-mail address for a name: `asa.bjork`.
pub fn email_local(first: &str, last: &str) -> String {
    let part = |s: &str| -> String {
        ascii_fold(s)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect()
    };
    format!("{}.{}", part(first), part(last))
}

/// Lower-cases and strips the diacritics of the names above (å → a, ö → o, ü → u…).
fn ascii_fold(s: &str) -> String {
    s.chars()
        .flat_map(|c| c.to_lowercase())
        .map(|c| match c {
            'å' | 'ä' | 'á' | 'à' | 'â' => 'a',
            'ö' | 'ø' | 'ó' | 'ò' | 'ô' => 'o',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'ü' | 'ú' | 'ù' => 'u',
            'í' | 'ì' | 'ï' => 'i',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// Contact id `c20240115-000123`: the local date the contact arrived and its number that day.
///
/// Ids from different days never collide, so simulating consecutive weeks separately gives
/// distinct contacts, and sorting by id sorts by arrival.
pub fn contact_id(date: Date, number: u32) -> String {
    format!(
        "c{:04}{:02}{:02}-{:06}",
        date.year(),
        date.month(),
        date.day(),
        number
    )
}

fn width(total: u32, min: usize) -> usize {
    (total.max(1).ilog10() as usize + 1).max(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_padded() {
        assert_eq!(queue_id(0, 4), "q01");
        assert_eq!(queue_id(99, 100), "q100");
        assert_eq!(agent_id(0, 50), "a0001");
        assert_eq!(agent_id(11_999, 12_000), "a12000");
        assert_eq!(agent_id(0, 12_000), "a00001");
        assert_eq!(team_name(0, 50), "Team 01");
        assert_eq!(team_name(13, 50), "Team 02");
        assert_eq!(team_name(0, 2000), "Team 001");
    }

    #[test]
    fn queue_names_and_channels() {
        assert_eq!(queue_name(0), "Billing");
        assert_eq!(queue_name(3), "Technical Chat");
        assert_eq!(queue_name(4), "Claims E-mail");
        assert_eq!(queue_name(20), "Queue 21");
        assert_eq!(queue_channel(8), Channel::Chat);
    }

    #[test]
    fn emails_are_ascii() {
        assert_eq!(email_local("Åsa", "Söderberg"), "asa.soderberg");
        assert_eq!(email_domain("Acme Bank"), "acme-bank.example.com");
        assert_eq!(email_domain("!!"), "contact-center.example.com");
    }

    #[test]
    fn contact_ids_sort_by_day() {
        let a = contact_id(jiff::civil::date(2024, 1, 9), 999_999);
        let b = contact_id(jiff::civil::date(2024, 1, 10), 1);
        assert!(a < b);
        assert_eq!(b, "c20240110-000001");
    }
}
