//! Articles (markdown with front matter) and intent files.

use super::*;

impl Loader {
    pub fn load_article(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some((front, body, front_line)) = split_front_matter(&text) else {
            self.err(
                file,
                1,
                "an article starts with TOML front matter between `+++` lines",
            );
            return;
        };
        let Some(raw) = self.parse_toml::<RawArticle>(file, front, front_line - 1) else {
            return;
        };
        let Some(reviewed) = self.date(file, "reviewed", &raw.reviewed) else {
            return;
        };
        if !is_slug(&raw.id) {
            self.err_at(
                file,
                &raw.id,
                format!(
                    "id {:?} must be lower-case letters, digits and dashes",
                    raw.id
                ),
            );
        }
        let visibility = match raw.visibility {
            None => Visibility::All,
            Some(RawVisibility::Word(w)) if w == "all" => Visibility::All,
            Some(RawVisibility::Word(w)) => {
                self.err_at(
                    file,
                    "visibility",
                    format!("visibility is \"all\" or a list of client codes, not {w:?}"),
                );
                Visibility::All
            }
            Some(RawVisibility::List(list)) => Visibility::Clients(list),
        };
        if body.trim().is_empty() {
            self.err_at(file, "+++", "the article has no body");
        }
        self.raw.articles.push(Article {
            id: raw.id,
            title: raw.title,
            category: raw.category,
            tags: raw.tags,
            questions: raw.questions,
            process: raw.process,
            service: raw.service,
            reviewed,
            owner: raw.owner,
            visibility,
            body: body.trim().to_string(),
            file: file.to_path_buf(),
        });
    }

    pub fn load_intents(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some(raw) = self.parse_toml::<RawIntentFile>(file, &text, 0) else {
            return;
        };
        for ri in raw.intent {
            let action = match ri.action.as_str() {
                "article" => match ri.article.clone() {
                    Some(a) => Action::Article(a),
                    None => {
                        self.err_at(
                            file,
                            &ri.name,
                            format!(
                                "intent {}: action \"article\" needs `article = \"<id>\"`",
                                ri.name
                            ),
                        );
                        continue;
                    }
                },
                "service" => match ri.service.clone() {
                    Some(s) => Action::Service(s),
                    None => {
                        self.err_at(
                            file,
                            &ri.name,
                            format!(
                                "intent {}: action \"service\" needs `service = \"<id>\"`",
                                ri.name
                            ),
                        );
                        continue;
                    }
                },
                "process" => match ri.process_question.as_deref() {
                    Some("owner") => Action::Process(ProcessQuestion::Owner),
                    Some("inputs") => Action::Process(ProcessQuestion::Inputs),
                    Some("duration") => Action::Process(ProcessQuestion::Duration),
                    other => {
                        self.err_at(file, &ri.name, format!("intent {}: action \"process\" needs process_question = \"owner\", \"inputs\" or \"duration\" (got {other:?})", ri.name));
                        continue;
                    }
                },
                "status" => Action::Status,
                "escalate" => Action::Escalate,
                "feedback" => Action::Feedback,
                "smalltalk" => Action::Smalltalk,
                "help" => Action::Help,
                "greeting" => Action::Greeting,
                "thanks" => Action::Thanks,
                "goodbye" => Action::Goodbye,
                "out_of_scope" => Action::OutOfScope,
                other => {
                    self.err_at(file, &format!("\"{other}\""), format!(
                        "intent {}: unknown action {other:?} (article, service, status, escalate, feedback, smalltalk, help, greeting, thanks, goodbye, process, out_of_scope)",
                        ri.name
                    ));
                    continue;
                }
            };
            if !is_intent_name(&ri.name) {
                self.err_at(
                    file,
                    &ri.name,
                    format!(
                        "intent name {:?} must be lower-case letters, digits, '_', '-' or '.'",
                        ri.name
                    ),
                );
            }
            if matches!(
                action,
                Action::Smalltalk | Action::Greeting | Action::Thanks | Action::Goodbye
            ) && ri.replies.is_empty()
            {
                self.err_at(
                    file,
                    &ri.name,
                    format!("intent {}: a {} intent needs `replies`", ri.name, ri.action),
                );
            }
            if ri.examples.is_empty() && ri.rules.is_empty() {
                self.err_at(
                    file,
                    &ri.name,
                    format!("intent {} has neither examples nor rules", ri.name),
                );
            }
            for rule in &ri.rules {
                if let Err(e) = regex::Regex::new(rule) {
                    self.err_at(
                        file,
                        rule,
                        format!(
                            "intent {}: invalid regex: {}",
                            ri.name,
                            first_line(&e.to_string())
                        ),
                    );
                }
            }
            self.raw.intents.push(Intent {
                name: ri.name,
                description: ri.description,
                action,
                examples: ri.examples,
                rules: ri.rules,
                replies: ri.replies,
                file: file.to_path_buf(),
            });
        }
    }
}
