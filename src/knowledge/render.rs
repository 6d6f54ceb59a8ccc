//! Rendering Markdown replies for each channel, links kept.
//!
//! Replies are written in Markdown. Raw HTML in content is never passed through: it is shown as
//! text, so an article or a message containing `<script>` cannot inject anything.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

mod memo;

/// Safe HTML for the web widget. Raw HTML in the source is escaped; only http(s)/mailto links are
/// kept as links, and they open in a new tab. Remembered by text (see `memo.rs`).
pub fn to_html(markdown: &str) -> String {
    static MEMO: std::sync::LazyLock<memo::Memo> = std::sync::LazyLock::new(memo::Memo::default);
    MEMO.get(markdown, render_html)
}

fn render_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    );
    let events = parser.map(|event| match event {
        // Raw HTML becomes text: shown, never interpreted.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = if safe_url(&dest_url) {
                dest_url
            } else {
                "#".into()
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::Start(Tag::Image { dest_url, .. }) => Event::Text(dest_url),
        Event::End(TagEnd::Image) => Event::Text("".into()),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html.replace(
        "<a href=",
        "<a target=\"_blank\" rel=\"noopener noreferrer\" href=",
    )
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || lower.starts_with('/')
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Telegram's HTML parse mode: only b, i, s, u, code, pre, a; everything else escaped.
pub fn to_telegram_html(markdown: &str) -> String {
    let mut out = String::new();
    let mut list_stack: Vec<Option<u64>> = Vec::new();
    for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&escape_html(&t))
            }
            Event::Code(t) => {
                out.push_str("<code>");
                out.push_str(&escape_html(&t));
                out.push_str("</code>");
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Strong) => out.push_str("<b>"),
            Event::End(TagEnd::Strong) => out.push_str("</b>"),
            Event::Start(Tag::Emphasis) => out.push_str("<i>"),
            Event::End(TagEnd::Emphasis) => out.push_str("</i>"),
            Event::Start(Tag::Strikethrough) => out.push_str("<s>"),
            Event::End(TagEnd::Strikethrough) => out.push_str("</s>"),
            Event::Start(Tag::CodeBlock(_)) => out.push_str("<pre>"),
            Event::End(TagEnd::CodeBlock) => out.push_str("</pre>\n"),
            Event::Start(Tag::Link { dest_url, .. }) if safe_url(&dest_url) => {
                out.push_str(&format!("<a href=\"{}\">", escape_html(&dest_url)));
            }
            // Close only a link we opened (unsafe links were dropped, their text kept).
            Event::End(TagEnd::Link)
                if out
                    .rfind("<a href=")
                    .is_some_and(|a| !out[a..].contains("</a>")) =>
            {
                out.push_str("</a>");
            }
            Event::Start(Tag::Heading { .. }) => out.push_str("<b>"),
            Event::End(TagEnd::Heading(_)) => out.push_str("</b>\n\n"),
            Event::End(TagEnd::Paragraph) => out.push_str("\n\n"),
            Event::Start(Tag::List(start)) => list_stack.push(start),
            Event::End(TagEnd::List(_)) => {
                list_stack.pop();
                out.push('\n');
            }
            Event::Start(Tag::Item) => match list_stack.last_mut() {
                Some(Some(n)) => {
                    out.push_str(&format!("{n}. "));
                    *n += 1;
                }
                _ => out.push_str("• "),
            },
            Event::End(TagEnd::Item) => out.push('\n'),
            _ => {}
        }
    }
    tidy(&out)
}

/// Plain text (for logs, previews and channels without formatting).
pub fn to_plain(markdown: &str) -> String {
    let mut out = String::new();
    let mut list_stack: Vec<Option<u64>> = Vec::new();
    let mut link: Option<String> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Link { dest_url, .. }) => link = Some(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link.take() {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Heading(_)) => out.push_str("\n\n"),
            Event::Start(Tag::List(start)) => list_stack.push(start),
            Event::End(TagEnd::List(_)) => {
                list_stack.pop();
                out.push('\n');
            }
            Event::Start(Tag::Item) => match list_stack.last_mut() {
                Some(Some(n)) => {
                    out.push_str(&format!("{n}. "));
                    *n += 1;
                }
                _ => out.push_str("- "),
            },
            Event::End(TagEnd::Item) => out.push('\n'),
            _ => {}
        }
    }
    tidy(&out)
}

/// Plain text of an article body as training passages for the engine: like [`to_plain`], but
/// without section titles (ATX headings and lines that are only bold text, such as
/// "**What happens next**"). Those are document structure shared by many articles, not the
/// article's topic, and as pseudo-examples they pull unrelated questions ("what happens to my
/// ticket") towards whichever articles use them.
pub fn to_passage_text(markdown: &str) -> String {
    let kept: Vec<&str> = markdown
        .lines()
        .filter(|line| !is_section_title(line))
        .collect();
    to_plain(&kept.join("\n"))
}

fn is_section_title(line: &str) -> bool {
    let t = line.trim();
    if t.starts_with('#') {
        return true;
    }
    ["**", "__"].iter().any(|m| {
        t.strip_prefix(m)
            .and_then(|rest| rest.strip_suffix(m))
            .is_some_and(|inner| !inner.trim().is_empty() && !inner.contains(m))
    })
}

fn tidy(s: &str) -> String {
    let mut out = s.trim().to_string();
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

/// Split a long text into chunks of at most `limit` characters, at paragraph, then line, then
/// word boundaries (Discord 2,000, Telegram 4,096).
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > limit {
        let byte_limit = rest
            .char_indices()
            .nth(limit)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..byte_limit];
        let cut = window
            .rfind("\n\n")
            .or_else(|| window.rfind('\n'))
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(byte_limit);
        chunks.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        chunks.push(rest.to_string());
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_safe_and_links_open_in_new_tab() {
        let html = to_html(
            "Hi <script>alert(1)</script> and <img src=x onerror=alert(1)> [portal](https://intranet.example/x) [bad](javascript:alert(1))",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("target=\"_blank\""), "{html}");
        assert!(
            html.contains("href=\"https://intranet.example/x\""),
            "{html}"
        );
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn telegram_html_escapes_specials() {
        let t = to_telegram_html(
            "**Pay** day is the _25th_ <b>not</b> & [link](https://x.example/a_b)",
        );
        assert!(
            t.starts_with("<b>Pay</b> day is the <i>25th</i> &lt;b&gt;not&lt;/b&gt; &amp;"),
            "{t}"
        );
        assert!(
            t.contains("<a href=\"https://x.example/a_b\">link</a>"),
            "{t}"
        );
    }

    #[test]
    fn plain_keeps_link_targets() {
        assert_eq!(
            to_plain("See [the portal](https://p.example).\n\n1. One\n2. Two"),
            "See the portal (https://p.example).\n\n1. One\n2. Two"
        );
    }

    #[test]
    fn passage_text_drops_section_titles() {
        let md = "## Heading\nIntro with **bold** word.\n\n**What happens next**\n\n1. Step one.\n";
        let p = to_passage_text(md);
        assert!(p.contains("Intro with bold word."), "{p}");
        assert!(p.contains("Step one."), "{p}");
        assert!(
            !p.contains("Heading") && !p.contains("What happens next"),
            "{p}"
        );
    }

    #[test]
    fn split_respects_limit_and_paragraphs() {
        let text = format!("{}\n\n{}", "a".repeat(30), "b ".repeat(40));
        let parts = split_message(&text, 50);
        assert!(parts.iter().all(|p| p.chars().count() <= 50), "{parts:?}");
        assert_eq!(parts[0], "a".repeat(30));
        assert_eq!(
            parts.concat().replace(' ', ""),
            text.replace([' ', '\n'], "")
        );
    }
}
