//! The organisation file (rate card, coverage, holidays) and the SPA service catalogue.

use super::*;

/// A reminder later than this would land after the next month's report: too late to matter.
const MAX_REVIEW_REMINDER_DAYS: u32 = 28;

impl Loader {
    pub fn load_organisation(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some(raw) = self.parse_toml::<RawOrganisation>(file, &text, 0) else {
            return;
        };
        let Some(timezone) = self.timezone(file, &raw.timezone) else {
            return;
        };
        self.default_tz = timezone;
        for (region, dates) in &raw.holidays {
            let mut set = std::collections::BTreeSet::new();
            for d in dates {
                if let Some(d) = self.date(file, region, d) {
                    set.insert(d);
                }
            }
            self.holidays.insert(
                region.clone(),
                Holidays {
                    region: region.clone(),
                    dates: std::sync::Arc::new(set),
                },
            );
        }
        self.default_region = raw.coverage.holidays.clone();
        let Some(coverage) = self.coverage(file, &raw.coverage, timezone) else {
            return;
        };
        let rates = self.rates(file, raw.rates);
        if !(1..=MAX_REVIEW_REMINDER_DAYS).contains(&raw.review_reminder_days) {
            self.err_at(
                file,
                "review_reminder_days",
                format!(
                    "review_reminder_days must be between 1 and {MAX_REVIEW_REMINDER_DAYS} (days after a month ends), not {}",
                    raw.review_reminder_days
                ),
            );
        }
        self.raw.organisation = Some(Organisation {
            short_name: raw.short_name.unwrap_or_else(|| raw.name.clone()),
            name: raw.name,
            timezone,
            currency: raw.currency,
            coverage,
            rates,
            escalation_response_hours: raw.escalation_response_hours,
            urgent_response_hours: raw.urgent_response_hours,
            client_response_hours: raw.client_response_hours,
            reopen_window_days: raw.reopen_window_days,
            review_reminder_days: raw.review_reminder_days,
        });
    }

    /// A rate card as the model keeps it: `completed_request = { default = 2, vendor-setup =
    /// 12 }` becomes `completed_request = 2` and `completed_request.vendor-setup = 12`. (The
    /// service ids are checked against the catalogue once it is loaded.)
    pub(super) fn rates(
        &mut self,
        file: &Path,
        raw: BTreeMap<String, RawRate>,
    ) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (k, v) in raw {
            let prices: Vec<(String, String, f64)> = match v {
                RawRate::Price(p) => vec![(k.clone(), k.clone(), p)],
                RawRate::PerService(_) if k != COMPLETED_REQUEST => {
                    self.err_at(
                        file,
                        &k,
                        format!(
                            "rate {k}: only {COMPLETED_REQUEST} is priced per service; give {k} one amount"
                        ),
                    );
                    continue;
                }
                RawRate::PerService(m) => m
                    .into_iter()
                    .map(|(service, p)| {
                        let key = if service == "default" {
                            k.clone()
                        } else {
                            format!("{k}.{service}")
                        };
                        (service, key, p)
                    })
                    .collect(),
            };
            for (needle, key, p) in prices {
                if !(p.is_finite() && p >= 0.0) {
                    self.err_at(
                        file,
                        &needle,
                        format!("rate {key} must be a non-negative amount"),
                    );
                    continue;
                }
                out.insert(key, p);
            }
        }
        out
    }

    pub fn load_service(&mut self, file: &Path) {
        let Some(text) = self.read(file) else { return };
        let Some(raw) = self.parse_toml::<RawService>(file, &text, 0) else {
            return;
        };
        let t = &raw.commitment.turnaround;
        let turnaround = match (t.business_hours, t.business_days, t.calendar_days) {
            (Some(h), None, None) => Turnaround::BusinessHours(h),
            (None, Some(d), None) => Turnaround::BusinessDays(d),
            (None, None, Some(d)) => Turnaround::CalendarDays(d),
            _ => {
                self.err_at(
                    file,
                    "turnaround",
                    "turnaround is exactly one of business_hours, business_days, calendar_days",
                );
                return;
            }
        };
        let default_tz = self.default_tz;
        let coverage = match &raw.commitment.coverage {
            Some(c) => self.coverage(file, c, default_tz),
            None => None,
        };
        let mut inputs = Vec::new();
        for ri in raw.input {
            let kind = match ri.kind.as_str() {
                "text" => InputKind::Text,
                "number" => InputKind::Number {
                    min: ri.min,
                    max: ri.max,
                },
                "amount" => InputKind::Amount {
                    min: ri.min,
                    max: ri.max,
                },
                "date" => InputKind::Date { future: ri.future },
                "email" => InputKind::Email,
                "choice" => {
                    if ri.choices.len() < 2 {
                        self.err_at(
                            file,
                            &ri.name,
                            format!("input {}: a choice needs at least two `choices`", ri.name),
                        );
                        continue;
                    }
                    InputKind::Choice {
                        choices: ri.choices,
                    }
                }
                "reference" => {
                    let Some(p) = ri.pattern.as_deref() else {
                        self.err_at(
                            file,
                            &ri.name,
                            format!("input {}: a reference needs a `pattern`", ri.name),
                        );
                        continue;
                    };
                    match InputKind::reference(p) {
                        Ok(kind) => kind,
                        Err(e) => {
                            self.err_at(
                                file,
                                p,
                                format!(
                                    "input {}: invalid regex: {}",
                                    ri.name,
                                    first_line(&e.to_string())
                                ),
                            );
                            continue;
                        }
                    }
                }
                other => {
                    self.err_at(file, &format!("\"{other}\""), format!(
                        "input {}: unknown type {other:?} (text, number, amount, date, email, choice, reference)",
                        ri.name
                    ));
                    continue;
                }
            };
            let extract = match ri.extract.as_deref() {
                None => None,
                Some(p) => match regex::Regex::new(p) {
                    Ok(r) => Some(Pattern(r)),
                    Err(e) => {
                        self.err_at(
                            file,
                            p,
                            format!(
                                "input {}: invalid extract regex: {}",
                                ri.name,
                                first_line(&e.to_string())
                            ),
                        );
                        None
                    }
                },
            };
            inputs.push(InputSpec {
                extract,
                name: ri.name,
                prompt: ri.prompt,
                kind,
                required: ri.required,
                help: ri.help,
            });
        }
        self.raw.services.push(Service {
            id: raw.id,
            name: raw.name,
            team: raw.team,
            process: raw.process,
            description: raw.description,
            interaction: raw.interaction,
            turnaround,
            coverage,
            inputs,
        });
    }
}
