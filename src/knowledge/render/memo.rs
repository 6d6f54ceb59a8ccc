//! The web's rendered replies, remembered by their Markdown.
//!
//! Most replies are an article's text, sent again and again, and rendering it was a tenth of
//! the server's CPU under load (`perf record --call-graph dwarf` of `serve` under wrk): the
//! same Markdown parsed into the same HTML on every message. Rendering is a pure function of
//! the text, so its result is kept: two generations of at most [`GENERATION_BYTES`] each, a
//! text used in the newer or the older one is served from it (and kept in the newer), and when
//! the newer fills up the older is dropped. Replies that differ on every message (a name, a
//! request reference) therefore push out nothing that is still used twice in a generation,
//! and memory stays bounded (about four generations' worth of text, keys and values).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Text and HTML kept per generation, in bytes.
const GENERATION_BYTES: usize = 2 << 20;
/// Longer texts are rendered every time (rare, and they would crowd out the rest).
const LONGEST: usize = 16 << 10;

#[derive(Default)]
pub(super) struct Memo {
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    newer: HashMap<Arc<str>, Arc<str>>,
    older: HashMap<Arc<str>, Arc<str>>,
    bytes: usize,
}

impl Memo {
    /// `render(markdown)`, rendered once per generation it is used in.
    pub(super) fn get(&self, markdown: &str, render: impl FnOnce(&str) -> String) -> String {
        if markdown.len() > LONGEST {
            return render(markdown);
        }
        if let Some(html) = self.lookup(markdown) {
            return html.to_string();
        }
        // Rendered outside the lock: a second thread rendering the same text meanwhile costs
        // only its time.
        let html = render(markdown);
        self.keep(Arc::from(markdown), Arc::from(html.as_str()));
        html
    }

    fn lookup(&self, markdown: &str) -> Option<Arc<str>> {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(html) = g.newer.get(markdown) {
            return Some(html.clone());
        }
        let (key, html) = g.older.remove_entry(markdown)?;
        g.insert(key, html.clone());
        Some(html)
    }

    fn keep(&self, markdown: Arc<str>, html: Arc<str>) {
        let mut g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        g.insert(markdown, html);
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let g = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        (g.newer.len(), g.older.len())
    }
}

impl Generations {
    fn insert(&mut self, markdown: Arc<str>, html: Arc<str>) {
        let size = markdown.len() + html.len();
        if self.bytes + size > GENERATION_BYTES {
            self.older = std::mem::take(&mut self.newer);
            self.bytes = 0;
        }
        self.bytes += size;
        let key = markdown.len();
        if let Some(old) = self.newer.insert(markdown, html) {
            // (two threads rendered the same text: counted once)
            self.bytes = self.bytes.saturating_sub(key + old.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_text_is_rendered_once_and_served_the_same_after() {
        let memo = Memo::default();
        let renders = Cell::new(0);
        let render = |m: &str| {
            renders.set(renders.get() + 1);
            format!("<p>{m}</p>")
        };
        assert_eq!(
            memo.get("Pay day is the 25th", render),
            "<p>Pay day is the 25th</p>"
        );
        assert_eq!(
            memo.get("Pay day is the 25th", render),
            "<p>Pay day is the 25th</p>"
        );
        assert_eq!(memo.get("Other", render), "<p>Other</p>");
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn memory_stays_bounded_and_a_text_in_use_survives_the_churn() {
        let memo = Memo::default();
        let renders = Cell::new(0);
        let render = |m: &str| {
            renders.set(renders.get() + 1);
            m.to_uppercase()
        };
        let article = "how to reset your password: open the portal";
        memo.get(article, render);
        // 40,000 one-off texts of ~60 bytes: more than two generations' worth
        for n in 0..40_000 {
            memo.get(
                &format!("Your request REQ-{n} is open; we answer within a day."),
                render,
            );
            if n % 1_000 == 0 {
                memo.get(article, render);
            }
        }
        assert_eq!(renders.get(), 40_001, "the article was rendered once");
        let (newer, older) = memo.sizes();
        let most = GENERATION_BYTES / 100;
        assert!(newer <= most && older <= most, "{newer} + {older} entries");
        // a text longer than the limit is not kept
        let long = "x".repeat(LONGEST + 1);
        memo.get(&long, render);
        memo.get(&long, render);
        assert_eq!(renders.get(), 40_003);
    }
}
