//! Playing a service request's life after the client submitted it: the SSO's moves through
//! `requests::record` (the lifecycle's own rules compute the due times, the client's waits and
//! the timeline) and the client's side through the real dialogue (their answer to a question,
//! their score after completion), at simulated times in business hours.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::DemoError;
use super::lines::{AGENTS, CANCEL_REASONS, DONE_NOTES, NO_ANSWER, QUESTIONS, REOPEN_REASONS};
use super::visit::{Generator, Visit};
use crate::dialogue::{Input, State};
use crate::domain::time::from_millis;
use crate::domain::{RequestSource, RequestStatus};
use crate::policy::calendar::{add_business, business_duration};
use crate::policy::lifecycle::Change;
use crate::requests::{self, RequestError};
use crate::simulation::draw::{pick, pick_text, weighted};

/// A request needs information from the client.
const ASK: f64 = 0.25;
/// The client answers on time / never (the rest: late).
const ANSWER_ON_TIME: f64 = 0.78;
const NEVER_ANSWERS: f64 = 0.04;
/// Completed inside the due time (the rest: late).
const ON_TIME: f64 = 0.86;
const CANCELLED_UNTOUCHED: f64 = 0.04;
const REOPENED: f64 = 0.06;

/// `d` scaled by `f`.
fn part(d: Duration, f: f64) -> Duration {
    Duration::minutes((d.num_minutes() as f64 * f).round() as i64)
}

impl Generator<'_> {
    /// The life of every request the visit opened.
    pub(super) async fn lifecycle(&mut self, v: &mut Visit<'_>) -> Result<(), DemoError> {
        let Some(conversation) = v.conversation.clone() else {
            return Ok(());
        };
        let references: Vec<String> = self
            .chat
            .store
            .input_collections(&conversation)
            .await?
            .into_iter()
            .filter_map(|c| c.request_reference)
            .collect();
        for reference in references {
            self.play(v, &reference).await?;
        }
        Ok(())
    }

    async fn play(&mut self, v: &mut Visit<'_>, reference: &str) -> Result<(), DemoError> {
        let Some(row) = self.chat.store.request_by_reference(reference).await? else {
            return Ok(());
        };
        let k = self.k.clone();
        let coverage = k
            .coverage_for(row.client_code.as_deref(), k.services.get(&row.service_id))
            .clone();
        let agent = pick(&mut self.lives, AGENTS).copied().unwrap_or("sso");
        let later = |rng: &mut rand::rngs::StdRng, at: DateTime<Utc>, minutes: (i64, i64)| {
            add_business(
                &coverage,
                at,
                Duration::minutes(rng.random_range(minutes.0..minutes.1)),
            )
        };
        let opened = from_millis(row.opened_at);
        if self.lives.random_bool(CANCELLED_UNTOUCHED) {
            let at = later(&mut self.lives, opened, (10, 240));
            let why = pick_text(&mut self.lives, CANCEL_REASONS);
            self.step(
                reference,
                RequestStatus::Cancelled,
                Some(why),
                None,
                agent,
                at,
            )
            .await?;
            return Ok(());
        }
        // Picked up and assigned within a few business hours.
        let mut at = later(&mut self.lives, opened, (10, 200));
        let mine = Some(agent.to_string());
        if !self
            .step(reference, RequestStatus::InProgress, None, mine, agent, at)
            .await?
        {
            return Ok(());
        }
        if self.lives.random_bool(ASK) {
            at = later(&mut self.lives, at, (20, 240));
            let Some((question, answer)) = pick(&mut self.lives, QUESTIONS).copied() else {
                return Ok(());
            };
            let asked = Some(question.to_string());
            if !self
                .step(
                    reference,
                    RequestStatus::WaitingForClient,
                    asked,
                    None,
                    agent,
                    at,
                )
                .await?
            {
                return Ok(());
            }
            // The client's own clock: their business hours to answer.
            let theirs = Duration::hours(i64::from(k.organisation.client_response_hours));
            let r: f64 = self.lives.random();
            if r < NEVER_ANSWERS {
                at = add_business(&coverage, at, theirs + Duration::hours(8));
                let why = Some(NO_ANSWER.to_string());
                self.step(reference, RequestStatus::Cancelled, why, None, agent, at)
                    .await?;
                return Ok(());
            }
            let share = if r < NEVER_ANSWERS + ANSWER_ON_TIME {
                self.lives.random_range(0.05..0.9)
            } else {
                self.lives.random_range(1.1..2.5)
            };
            at = add_business(&coverage, at, part(theirs, share));
            if at > self.end {
                return Ok(());
            }
            // Their answer in their conversation: the dialogue attaches it to the request and
            // restarts the SSO's clock.
            v.now = at;
            self.client_says(v, Input::Text(answer.to_string())).await?;
            at = v.now;
        }
        // Completed: mostly inside the due time (as the client's waits moved it), some late.
        let Some(row) = self.chat.store.request_by_reference(reference).await? else {
            return Ok(());
        };
        let due = from_millis(row.due_at);
        let left = business_duration(&coverage, at, due).max(Duration::minutes(30));
        let late = !self.lives.random_bool(ON_TIME);
        at = if late {
            let over = part(left, self.lives.random_range(0.1..0.8)) + Duration::minutes(30);
            add_business(&coverage, due.max(at), over)
        } else {
            add_business(
                &coverage,
                at,
                part(left, self.lives.random_range(0.1..0.95)),
            )
        };
        let note = Some(pick_text(&mut self.lives, DONE_NOTES));
        if !self
            .step(reference, RequestStatus::Done, note, None, agent, at)
            .await?
        {
            return Ok(());
        }
        self.score(v, at, late).await?;
        if self.lives.random_bool(REOPENED) {
            at += Duration::hours(self.lives.random_range(4..96));
            let why = Some(pick_text(&mut self.lives, REOPEN_REASONS));
            if !self
                .step(reference, RequestStatus::Reopened, why, None, agent, at)
                .await?
            {
                return Ok(());
            }
            at = later(&mut self.lives, at, (30, 240));
            if !self
                .step(reference, RequestStatus::InProgress, None, None, agent, at)
                .await?
            {
                return Ok(());
            }
            at = later(&mut self.lives, at, (60, 600));
            let note = Some("Corrected.".to_string());
            self.step(reference, RequestStatus::Done, note, None, agent, at)
                .await?;
        }
        Ok(())
    }

    /// One move by the SSO at `at`, unless the demo's period has ended by then (`false`: the
    /// request stays as it is). A move the request no longer allows (the client's answer went
    /// elsewhere) ends its story too.
    async fn step(
        &mut self,
        reference: &str,
        to: RequestStatus,
        note: Option<String>,
        assignee: Option<String>,
        agent: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DemoError> {
        if at > self.end {
            return Ok(false);
        }
        let change = Change {
            to: Some(to),
            note,
            assignee,
            actor: agent.to_string(),
            source: Some(RequestSource::Backoffice),
            ..Change::default()
        };
        match requests::record(self.chat, reference, change, &None, at).await {
            Ok(_) => {
                self.summary.request_moves += 1;
                Ok(true)
            }
            Err(RequestError::Transition(_) | RequestError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The survey after a completion, when the dialogue asked it: answered two times in three,
    /// a little lower when the request was late.
    async fn score(
        &mut self,
        v: &mut Visit<'_>,
        done: DateTime<Utc>,
        late: bool,
    ) -> Result<(), DemoError> {
        let Some(conversation) = v.conversation.clone() else {
            return Ok(());
        };
        let asked = self
            .chat
            .store
            .conversation(&conversation)
            .await?
            .is_some_and(|c| matches!(State::from_json(&c.state), State::Survey { .. }));
        if !asked || !self.lives.random_bool(0.66) {
            return Ok(());
        }
        v.now = done + Duration::minutes(self.lives.random_range(5..240));
        if v.now > self.end {
            return Ok(());
        }
        let weights: &[(u32, u8)] = if late {
            &[(12, 1), (14, 2), (26, 3), (30, 4), (18, 5)]
        } else {
            &[(4, 1), (4, 2), (10, 3), (32, 4), (50, 5)]
        };
        let score = *weighted(&mut self.lives, weights);
        self.client_says(v, Input::Button(format!("survey:{score}")))
            .await
    }

    /// The client's turn, its typing time drawn from the lifecycle's generator.
    async fn client_says(&mut self, v: &mut Visit<'_>, input: Input) -> Result<(), DemoError> {
        std::mem::swap(&mut self.rng, &mut self.lives);
        let said = self.say(v, input).await;
        std::mem::swap(&mut self.rng, &mut self.lives);
        said.map(|_| ())
    }
}
