-- wrk script for scripts/perf.sh: POST /api/v1/chat with realistic questions, a new session
-- every four messages, each message with its own message_id (as the widget sends).
--
--   wrk -t2 -c64 -d8s -s scripts/wrk-chat.lua http://127.0.0.1:18091
--
-- The questions are everyday help-desk phrasing, written for this script (not taken from the
-- content or from a dataset). wrk keeps state per thread; `id` tells the threads apart so no
-- two threads share a session.

local questions = {
  "how do I reset my password",
  "when will my expense claim be paid",
  "I need a new laptop",
  "how many days of annual leave do I have left",
  "the vpn keeps disconnecting",
  "how do I add a new supplier",
  "where is my payslip",
  "what is the policy on travel booking",
  "my invoice has not been paid yet",
  "can I talk to someone about my contract",
}

local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  n = 0
  run = tostring(os.time()) .. "-" .. tostring(math.random(1000000))
  wrk.method = "POST"
  wrk.path = "/api/v1/chat"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local session = string.format("wrk-%s-%d-%d", run, id, math.floor(n / 4))
  local text = questions[(n % #questions) + 1]
  local body = string.format('{"session":"%s","text":"%s","message_id":"%s-%d"}', session, text, session, n)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    errors = (errors or 0) + 1
  end
end

function done(summary, latency, requests)
  local errs = summary.errors
  local non2xx = errs.status
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"throughput":%.1f,"p50":%.3f,"p99":%.3f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
    errs.connect + errs.read + errs.write + errs.timeout))
end
