//! How simulated people mistype. Two styles, each drawn the way its simulation always has (the
//! demo's draws are pinned by its seed; the load test's by nothing but its character):
//!
//! - [`in_long_word`] (demo): always one typo, in a word of five letters or more, so the
//!   engine's typo repair has something to repair;
//! - [`light`] (load test): at most one, anywhere, sometimes none.

use rand::Rng;

use super::draw::pick;

/// A typo in one word of five letters or more: two letters swapped or one dropped.
pub fn in_long_word<R: Rng + ?Sized>(rng: &mut R, text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|i| words[*i].chars().count() >= 5 && words[*i].chars().all(char::is_alphabetic))
        .collect();
    if long.is_empty() {
        return text.to_string();
    }
    let Some(&i) = pick(rng, &long) else {
        return text.to_string();
    };
    let mut chars: Vec<char> = words[i].chars().collect();
    let at = rng.random_range(1..chars.len() - 1);
    if rng.random_bool(0.5) {
        chars.swap(at, at + 1);
    } else {
        chars.remove(at);
    }
    let fixed: String = chars.into_iter().collect();
    words
        .iter()
        .enumerate()
        .map(|(j, w)| if j == i { fixed.as_str() } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Light typos, as people type: a dropped letter, two letters swapped, or none.
pub fn light<R: Rng + ?Sized>(rng: &mut R, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 8 {
        return text.to_string();
    }
    let i = rng.random_range(1..chars.len() - 2);
    if !chars[i].is_alphabetic() || !chars[i + 1].is_alphabetic() {
        return text.to_string();
    }
    let mut c = chars;
    match rng.random_range(0..3) {
        0 => {
            c.remove(i);
        }
        1 => c.swap(i, i + 1),
        _ => {}
    }
    c.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::{SmallRng, StdRng};

    use super::*;

    #[test]
    fn typos_change_one_long_word() {
        let mut rng = StdRng::seed_from_u64(3);
        let t = in_long_word(&mut rng, "how do I reset my password");
        assert_ne!(t, "how do I reset my password");
        assert_eq!(t.split(' ').count(), 6);
        assert_eq!(in_long_word(&mut rng, "hi to you"), "hi to you");
    }

    #[test]
    fn typos_are_light() {
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..100 {
            let t = light(&mut rng, "how do I reset my password");
            assert!(t.len() + 1 >= "how do I reset my password".len());
        }
    }
}
