//! [`Announcements`](crate::store::Announcements) in SQL.

/// The columns of `AnnouncementRow`, written once.
macro_rules! announcement_columns {
    () => {
        "id, title, body, clients, channels, active_days, article_id, urgent, starts_at, ends_at,
         created_by, created_at, ended_early_at"
    };
}

pub(crate) use announcement_columns;

/// Queue a delivery's outbox row inside the caller's transaction `$tx`, due at the channel's
/// next paced slot: the pacing cursor moves on by the channel's gap, whichever replica asks.
macro_rules! queue_announcement_row {
    ($tx:expr, $key:expr, $channel:expr, $route:expr, $payload:expr, $pacing:expr, $now:expr) => {{
        let gap = $pacing.get($channel.as_str()).copied().unwrap_or(0).max(0);
        let (next,): (i64,) = sqlx::query_as(
            "INSERT INTO announcement_pacing (channel, next_slot) VALUES ($1, $2 + $3)
             ON CONFLICT (channel) DO UPDATE SET next_slot =
                CASE WHEN announcement_pacing.next_slot > $2
                     THEN announcement_pacing.next_slot + $3 ELSE $2 + $3 END
             RETURNING next_slot",
        )
        .bind($channel.as_str())
        .bind($now)
        .bind(gap)
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
                attempts, next_attempt_at, created_at)
             VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $6)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind($key.as_str())
        .bind($crate::store::announcements::OUTBOX_KIND)
        .bind($route.as_str())
        .bind($payload.as_str())
        .bind(next - gap)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

pub(crate) use queue_announcement_row;

macro_rules! impl_announcements {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Announcements for $store {
            async fn create_announcement(
                &self,
                a: &$crate::store::NewAnnouncement,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<i64> {
                let clients = serde_json::to_string(&a.clients).unwrap_or_else(|_| "[]".into());
                let channels = serde_json::to_string(&a.channels).unwrap_or_else(|_| "[]".into());
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO announcements (title, body, clients, channels, active_days, article_id,
                        urgent, starts_at, ends_at, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(&a.title)
                .bind(&a.body)
                .bind(clients)
                .bind(channels)
                .bind(a.active_days)
                .bind(&a.article_id)
                .bind(a.urgent)
                .bind(a.starts_at)
                .bind(a.ends_at)
                .bind(&a.created_by)
                .bind(now)
                .fetch_one(&self.writer)
                .await?;
                Ok(id)
            }

            async fn announcement(
                &self,
                id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::AnnouncementRow>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::sql::announcements::announcement_columns!(),
                    " FROM announcements WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn announcements(
                &self,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AnnouncementRow>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::sql::announcements::announcement_columns!(),
                    " FROM announcements ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn active_announcements(
                &self,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AnnouncementRow>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::sql::announcements::announcement_columns!(),
                    " FROM announcements
                      WHERE ends_at > $1 AND starts_at <= $1 AND ended_early_at IS NULL
                      ORDER BY urgent DESC, id DESC"
                ))
                .bind(now)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn end_announcement(
                &self,
                id: i64,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let ended = sqlx::query(
                    "UPDATE announcements SET ended_early_at = $2
                     WHERE id = $1 AND ended_early_at IS NULL AND ends_at > $2",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if ended {
                    sqlx::query(
                        "UPDATE announcement_deliveries SET status = 'expired'
                         WHERE announcement_id = $1 AND status = 'waiting'",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn claim_announcements(
                &self,
                worker: &str,
                now: $crate::store::Millis,
                lease_until: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AnnouncementRow>> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE announcements SET fanout_by = $1, fanout_until = $2
                     WHERE starts_at <= $3 AND ends_at > $3 AND ended_early_at IS NULL
                       AND (fanout_until IS NULL OR fanout_until < $3 OR fanout_by = $1)
                     RETURNING ",
                    $crate::store::sql::announcements::announcement_columns!()
                ))
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn audience(
                &self,
                channel: &str,
                seen_since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AudienceMember>> {
                let rows: Vec<$crate::store::AudienceMember> = sqlx::query_as(
                    "SELECT i.channel, i.external_id AS recipient,
                            COALESCE(p.client_code, c.client_code) AS client_code,
                            c.id AS conversation_id, c.session_key, c.updated_at AS last_seen_at,
                            (x.recipient IS NOT NULL) AS opted_out
                     FROM identities i
                     JOIN people p ON p.id = i.person_id
                     JOIN conversations c ON c.person_id = p.id AND c.channel = i.channel
                     LEFT JOIN announcement_optouts x
                            ON x.channel = i.channel AND x.recipient = i.external_id
                     WHERE i.channel = $1 AND COALESCE(p.client_code, c.client_code) IS NOT NULL
                       AND c.updated_at >= $2
                     ORDER BY i.external_id, c.updated_at DESC, c.id",
                )
                .bind(channel)
                .bind(seen_since)
                .fetch_all(&self.reader)
                .await?;
                // Each account once, with its latest conversation (rows come newest first).
                let mut out: Vec<$crate::store::AudienceMember> = Vec::new();
                for r in rows {
                    if out.last().is_none_or(|l| l.recipient != r.recipient) {
                        out.push(r);
                    }
                }
                Ok(out)
            }

            async fn record_deliveries(
                &self,
                announcement_id: i64,
                deliveries: &[$crate::store::NewDelivery],
                pacing: &$crate::store::Pacing,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeliveryStatus>> {
                let mut tx = self.writer.begin().await?;
                let mut new = Vec::new();
                for d in deliveries {
                    let inserted = sqlx::query(
                        "INSERT INTO announcement_deliveries (announcement_id, channel, recipient,
                            client_code, status, due_at, outbox_key, route, payload, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT (announcement_id, channel, recipient) DO NOTHING",
                    )
                    .bind(announcement_id)
                    .bind(&d.channel)
                    .bind(&d.recipient)
                    .bind(&d.client_code)
                    .bind(d.status.as_str())
                    .bind(d.due_at)
                    .bind(&d.outbox_key)
                    .bind(&d.route)
                    .bind(&d.payload)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if !inserted {
                        continue;
                    }
                    new.push(d.status);
                    if d.status == $crate::store::DeliveryStatus::Queued {
                        $crate::store::sql::announcements::queue_announcement_row!(
                            tx, d.outbox_key, d.channel, d.route, d.payload, pacing, now
                        );
                    }
                }
                tx.commit().await?;
                Ok(new)
            }

            async fn release_waiting(
                &self,
                now: $crate::store::Millis,
                pacing: &$crate::store::Pacing,
                limit: i64,
            ) -> $crate::store::StoreResult<usize> {
                #[derive(sqlx::FromRow)]
                struct Due {
                    id: i64,
                    channel: String,
                    outbox_key: String,
                    route: String,
                    payload: String,
                    ended: bool,
                    opted_out: bool,
                }
                let mut tx = self.writer.begin().await?;
                let due: Vec<Due> = sqlx::query_as(
                    "SELECT d.id, d.channel, d.outbox_key, d.route, d.payload,
                            (a.ended_early_at IS NOT NULL OR a.ends_at <= $1) AS ended,
                            (x.recipient IS NOT NULL) AS opted_out
                     FROM announcement_deliveries d
                     JOIN announcements a ON a.id = d.announcement_id
                     LEFT JOIN announcement_optouts x
                            ON x.channel = d.channel AND x.recipient = d.recipient
                     WHERE d.status = 'waiting' AND d.due_at <= $1
                     ORDER BY d.due_at, d.id LIMIT $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                let mut queued = 0;
                for d in due {
                    let status = if d.opted_out {
                        "unsubscribed"
                    } else if d.ended {
                        "expired"
                    } else {
                        "queued"
                    };
                    // Guarded: another replica releasing the same row at once changes nothing.
                    let moved = sqlx::query(
                        "UPDATE announcement_deliveries SET status = $2 WHERE id = $1 AND status = 'waiting'",
                    )
                    .bind(d.id)
                    .bind(status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if moved && status == "queued" {
                        $crate::store::sql::announcements::queue_announcement_row!(
                            tx, d.outbox_key, d.channel, d.route, d.payload, pacing, now
                        );
                        queued += 1;
                    }
                }
                tx.commit().await?;
                Ok(queued)
            }

            async fn set_announcement_subscription(
                &self,
                channel: &str,
                recipient: &str,
                subscribed: bool,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let changed = if subscribed {
                    sqlx::query("DELETE FROM announcement_optouts WHERE channel = $1 AND recipient = $2")
                        .bind(channel)
                        .bind(recipient)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                } else {
                    // What waits for coverage is not sent either.
                    sqlx::query(
                        "UPDATE announcement_deliveries SET status = 'unsubscribed'
                         WHERE channel = $1 AND recipient = $2 AND status = 'waiting'",
                    )
                    .bind(channel)
                    .bind(recipient)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO announcement_optouts (channel, recipient, created_at) VALUES ($1, $2, $3)
                         ON CONFLICT (channel, recipient) DO NOTHING",
                    )
                    .bind(channel)
                    .bind(recipient)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                };
                tx.commit().await?;
                Ok(changed == 1)
            }

            async fn delivery_counts(
                &self,
                announcement_id: i64,
            ) -> $crate::store::StoreResult<$crate::store::DeliveryCounts> {
                let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT d.status, o.status, COUNT(*)
                     FROM announcement_deliveries d
                     LEFT JOIN outbox o ON o.idempotency_key = d.outbox_key
                     WHERE d.announcement_id = $1
                     GROUP BY d.status, o.status",
                )
                .bind(announcement_id)
                .fetch_all(&self.writer)
                .await?;
                let mut c = $crate::store::DeliveryCounts::default();
                for (status, outbox, n) in rows {
                    match (status.as_str(), outbox.as_deref()) {
                        ("queued", Some("delivered")) => c.sent += n,
                        ("queued", Some("failed")) => c.failed += n,
                        ("queued", _) => c.queued += n,
                        ("waiting", _) => c.waiting_for_coverage += n,
                        ("unsubscribed", _) => c.unsubscribed_skipped += n,
                        _ => c.expired += n,
                    }
                }
                Ok(c)
            }

            async fn deliveries(
                &self,
                announcement_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeliveryRow>> {
                Ok(sqlx::query_as(
                    "SELECT d.channel, d.recipient, d.client_code, d.status, d.due_at, d.outbox_key,
                            o.status AS outbox_status, o.attempts
                     FROM announcement_deliveries d
                     LEFT JOIN outbox o ON o.idempotency_key = d.outbox_key
                     WHERE d.announcement_id = $1
                     ORDER BY d.channel, d.recipient",
                )
                .bind(announcement_id)
                .fetch_all(&self.writer)
                .await?)
            }
        }
    };
}

pub(crate) use impl_announcements;
