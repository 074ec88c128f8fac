"""The production store: Redis, one Lua script for every compare-and-set.

Layout (all under a prefix, ``pk:`` by default):

- ``due``: sorted set, member = item key, score = due time (the due index);
- ``lease``: sorted set of claimed and sending keys, score = lease expiry;
- ``item:<key>``: hash with the item's fields (the ledger);
- ``plan:<id>``, ``plans``, ``plankeys:<id>`` (keys the timeline scheduled),
  ``planitems:<id>`` (every key of the plan);
- ``followup``: hash, item key -> ``<problem>:<attempts>``, outcomes still to act on;
- ``pace:<bucket>``: hash ``tat``, ``factor``, ``held``: one destination's GCRA slot
  (worker/delivery/pacing.py), with an expiry so an idle bucket vanishes;
- ``rev:<uid>``: calendar revision; ``rec:<collection>``: hash of JSON records;
  ``once:<name>``: once-flags.

A claim is ZRANGEBYSCORE + ZREM + ZADD + HSET inside one script: its cost
follows the number of items due, not the number scheduled. Calls are retried
through a Redis restart (redis-py's Retry); every script is a compare-and-set,
so a retried call that had already been applied changes nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import redis

from config.settings import Settings
from worker.store.base import (
    NARROW_CAP,
    OPEN_STATES,
    PACE_IDLE,
    WIDEN_KEEP,
    Claim,
    Item,
    Pace,
    PlanRecord,
    ReapResult,
    Store,
    SyncResult,
    claims_of,
)
from worker.store.redis_place import RedisPlace, connect, place_of

log = logging.getLogger("pactkeeper.store")
# Seconds a delivery whose "sending" no replica confirmed waits before it is tried again.
UNCONFIRMED_DELAY = 2.0

CLAIM = """
-- KEYS: due, lease; ARGV: now, limit, lease expiry, token, item prefix.
-- Per key the least a claim can do: one HSET (state and token together) and one HGET.
-- redis.call and the ARGV values are held in locals (no global or table lookup per key);
-- the gain is within this machine's noise (bench_sweep --variants, 'CLAIM before').
local call = redis.call
local keys = call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #keys == 0 then return keys end
call('ZREM', KEYS[1], unpack(keys))
local expiry, token, prefix = ARGV[3], ARGV[4], ARGV[5]
local leases, kinds = {}, {}
for i, key in ipairs(keys) do
  local item = prefix .. key
  call('HSET', item, 'state', 'claimed', 'token', token)
  kinds[i] = call('HGET', item, 'kind')
  leases[2 * i - 1] = expiry
  leases[2 * i] = key
end
call('ZADD', KEYS[2], unpack(leases))
return {keys, kinds}
"""

SETTLE = """
local settled = {}
for i, key in ipairs(KEYS) do
  local item = ARGV[3] .. key
  local now = redis.call('HMGET', item, 'state', 'token')
  if now[1] == 'claimed' and now[2] == ARGV[1] then
    redis.call('HSET', item, 'state', 'sent', 'sent_at', ARGV[2], 'lease', '',
               'detail', ARGV[3 + i])
    redis.call('ZREM', ARGV[4 + #KEYS], key)
    settled[#settled + 1] = key
  end
end
return settled
"""

BEGIN = """
local now = redis.call('HMGET', KEYS[1], 'state', 'token')
if now[1] ~= 'claimed' or now[2] ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'state', 'sending', 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return redis.call('HGETALL', KEYS[1])
"""

FINISH = """
local now = redis.call('HMGET', KEYS[1], 'state', 'token')
if now[1] ~= 'sending' or now[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'detail', ARGV[3], 'subject', ARGV[4],
           'sent_at', ARGV[5], 'lease', '')
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'channel_used', ARGV[6]) end
redis.call('ZREM', KEYS[2], ARGV[7])
if ARGV[8] ~= '' then
  local attempts = redis.call('HGET', KEYS[1], 'attempts') or '0'
  redis.call('HSET', KEYS[3], ARGV[7], ARGV[8] .. ':' .. attempts)
end
return 1
"""

RETRY = """
local now = redis.call('HMGET', KEYS[1], 'state', 'token')
if now[1] ~= 'sending' or now[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'due', 'due', ARGV[2], 'detail', ARGV[3], 'token', '',
           'lease', '')
redis.call('HINCRBY', KEYS[1], 'attempts', tonumber(ARGV[6]))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'channel', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
return 1
"""

RELEASE = """
local now = redis.call('HMGET', KEYS[1], 'state', 'token', 'due')
if now[1] ~= 'claimed' or now[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'due', 'token', '', 'lease', '')
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], now[3], ARGV[2])
return 1
"""

REAP = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local returned, unknown = {}, {}
for _, key in ipairs(expired) do
  local item = ARGV[3] .. key
  local now = redis.call('HMGET', item, 'state', 'due')
  redis.call('ZREM', KEYS[1], key)
  if now[1] == 'claimed' then
    redis.call('HSET', item, 'state', 'due', 'token', '', 'lease', '')
    redis.call('ZADD', KEYS[2], now[2], key)
    returned[#returned + 1] = key
  elseif now[1] == 'sending' then
    redis.call('HSET', item, 'state', 'unknown', 'lease', '',
               'detail', 'the worker stopped while sending')
    local attempts = redis.call('HGET', item, 'attempts') or '0'
    redis.call('HSET', KEYS[3], key, 'unknown:' .. attempts)
    unknown[#unknown + 1] = key
  end
end
return {returned, unknown}
"""

FOLLOWED_UP = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

REQUEUE = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'due', 'due', ARGV[2], 'detail', ARGV[3], 'token', '',
           'lease', '')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
"""

SCHEDULE = """
local added = {}
local items = cjson.decode(ARGV[1])
for _, it in ipairs(items) do
  local item = ARGV[2] .. it.key
  if redis.call('EXISTS', item) == 0 then
    for name, value in pairs(it) do redis.call('HSET', item, name, value) end
    redis.call('SADD', ARGV[3] .. it.plan_id, it.key)
    if it.state == 'due' then redis.call('ZADD', KEYS[1], it.due, it.key) end
    added[#added + 1] = it.key
  end
end
return added
"""

SYNC = """
-- KEYS: plan, plans, plankeys, planitems, due, lease
-- ARGV: plan_id, text, digest, updated, source, now, grace, items (JSON), item prefix,
--       horizon ('' for the whole timeline)
local items = cjson.decode(ARGV[8])
local wanted, added, expired, removed, kept = {}, {}, {}, {}, 0
local floor = tonumber(ARGV[6]) - tonumber(ARGV[7])
for _, it in ipairs(items) do
  wanted[it.key] = true
  local item = ARGV[9] .. it.key
  local state = redis.call('HGET', item, 'state')
  if state and state ~= 'cancelled' then
    kept = kept + 1
  else
    local fresh = 'due'
    if tonumber(it.due) < floor then fresh = 'expired' end
    redis.call('DEL', item)
    for name, value in pairs(it) do redis.call('HSET', item, name, value) end
    redis.call('HSET', item, 'state', fresh)
    if fresh == 'due' then
      redis.call('ZADD', KEYS[5], it.due, it.key)
      added[#added + 1] = it.key
    else
      expired[#expired + 1] = it.key
    end
  end
  redis.call('SADD', KEYS[3], it.key)
  redis.call('SADD', KEYS[4], it.key)
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if not wanted[key] then
    local item = ARGV[9] .. key
    local state = redis.call('HGET', item, 'state')
    if state == 'due' or state == 'claimed' then
      redis.call('ZREM', KEYS[5], key)
      redis.call('ZREM', KEYS[6], key)
      redis.call('HSET', item, 'state', 'cancelled', 'token', '', 'lease', '')
      removed[#removed + 1] = key
    end
    redis.call('SREM', KEYS[3], key)
  end
end
redis.call('HSET', KEYS[1], 'plan_id', ARGV[1], 'text', ARGV[2], 'digest', ARGV[3],
           'updated', ARGV[4], 'source', ARGV[5], 'horizon', ARGV[10])
redis.call('SADD', KEYS[2], ARGV[1])
return {added, removed, expired, kept}
"""

REVISE = """
local now = redis.call('HMGET', KEYS[1], 'sequence', 'digest')
if not now[1] then
  redis.call('HSET', KEYS[1], 'sequence', 0, 'digest', ARGV[1])
  return {0, 1}
end
if now[2] == ARGV[1] then return {tonumber(now[1]), 0} end
local sequence = tonumber(now[1]) + 1
redis.call('HSET', KEYS[1], 'sequence', sequence, 'digest', ARGV[1])
return {sequence, 1}
"""

PUT_ONCE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
"""

SWAP = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

CANCEL = """
-- KEYS: due, lease; ARGV: item prefix, then the keys
local cancelled = {}
for i = 2, #ARGV do
  local key = ARGV[i]
  local item = ARGV[1] .. key
  local state = redis.call('HGET', item, 'state')
  if state == 'due' or state == 'claimed' then
    redis.call('HSET', item, 'state', 'cancelled', 'token', '', 'lease', '')
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
    cancelled[#cancelled + 1] = key
  end
end
return cancelled
"""

REWRITE = """
-- KEYS[1]: the item; ARGV: the plan id, the state expected, then field, value pairs
local now = redis.call('HMGET', KEYS[1], 'plan_id', 'state')
if now[1] ~= ARGV[1] or now[2] ~= ARGV[2] then return 0 end
if now[2] == 'due' or now[2] == 'claimed' or now[2] == 'sending' then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# The same arithmetic as worker.store.base.book_slot. Times are written with %.17g (Lua's
# tostring keeps 14 digits, a microsecond's loss) and returned as a string (Redis turns a
# Lua number into an integer).
PACE_COMMON = """
local function num(x) return string.format('%.17g', x) end
local function save(key, s, now, idle)
  redis.call('HSET', key, 'tat', num(s.tat), 'factor', num(s.factor), 'held', num(s.held),
    'went', num(s.went))
  redis.call('PEXPIRE', key, math.ceil((math.max(s.tat, s.held) + idle - now) * 1000))
end
local function load(key, now, idle)
  local v = redis.call('HMGET', key, 'tat', 'factor', 'held', 'went')
  local tat, held, went = tonumber(v[1]), tonumber(v[3]) or 0, tonumber(v[4]) or 0
  if tat and math.max(tat, held) + idle < now then
    -- ran out by the caller's clock (a virtual one runs ahead of the server's expiry)
    redis.call('DEL', key)
    tat, held, went = nil, 0, 0
    v[2] = nil
  end
  return {tat = tat or now, factor = tonumber(v[2]) or 1, held = held, went = went}
end
local function widen(s, keep) s.factor = math.max(1, 1 + (s.factor - 1) * keep) end
"""

TAKE_SLOT = (
    PACE_COMMON
    + """
-- KEYS: the buckets; ARGV: now, the item's key, widen keep, idle seconds,
--       then interval and burst per bucket. A booking is the field 'r:<item key>'.
local now, mine = tonumber(ARGV[1]), 'r:' .. ARGV[2]
local keep, idle = tonumber(ARGV[3]), tonumber(ARGV[4])
local states, moments, at = {}, {}, now
for i, key in ipairs(KEYS) do
  local s = load(key, now, idle)
  s.interval = tonumber(ARGV[3 + 2 * i]) * s.factor
  s.mine = tonumber(redis.call('HGET', key, mine))
  local spread = s.interval * (tonumber(ARGV[4 + 2 * i]) - 1)
  if s.mine then
    moments[i] = math.max(s.mine, now, s.went - spread)
  else
    moments[i] = math.max(s.tat - spread, s.held, s.went - spread)
  end
  states[i] = s
  at = math.max(at, moments[i])
end
for i, key in ipairs(KEYS) do
  local s = states[i]
  if at <= now then
    if s.mine then redis.call('HDEL', key, mine) else s.tat = math.max(s.tat, now) + s.interval end
    s.went = math.max(s.went, now) + s.interval
    widen(s, keep)
    save(key, s, now, idle)
  elseif moments[i] == at and not s.mine then
    s.tat = math.max(s.tat, at) + s.interval
    redis.call('HSET', key, mine, num(at))
    save(key, s, now, idle)
  elseif moments[i] == at then
    -- its booking came round with another send too close: move it
    redis.call('HSET', key, mine, num(at))
  end
end
if at <= now then return '0' end
return num(at)
"""
)

NARROW_SLOT = (
    PACE_COMMON
    + """
-- KEYS: the buckets; ARGV: now, hold until, factor, cap, idle seconds, then each interval
local now, hold, factor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, idle = tonumber(ARGV[4]), tonumber(ARGV[5])
for i, key in ipairs(KEYS) do
  local s = load(key, now, idle)
  s.held = math.max(s.held, hold)
  s.factor = math.min(s.factor * factor, cap)
  s.tat = math.max(s.held, now + tonumber(ARGV[5 + i]) * s.factor)
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, 2) == 'r:' then redis.call('HDEL', key, field) end
  end
  save(key, s, now, idle)
end
return 1
"""
)

DELETE_PLAN = """
-- KEYS: plan, plans, plankeys, planitems, due, lease, followup; ARGV: plan id, item prefix
local keys = redis.call('SMEMBERS', KEYS[4])
for _, key in ipairs(keys) do
  redis.call('DEL', ARGV[2] .. key)
  redis.call('ZREM', KEYS[5], key)
  redis.call('ZREM', KEYS[6], key)
  redis.call('HDEL', KEYS[7], key)
end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[2], ARGV[1])
return #keys
"""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class RedisStore(Store):
    def __init__(
        self,
        url: str,
        prefix: str = "pk:",
        retry_seconds: float = 30.0,
        *,
        place: RedisPlace | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = 0.5,
    ) -> None:
        """The store on the Redis at ``url``, or at ``place`` (TLS files, Sentinels).

        ``wait_replicas``: replicas that must hold a delivery's ``sending`` mark before it
        goes out (``begin``); ``wait_timeout``: seconds that WAIT may take.
        """
        self.place = place or RedisPlace(url)
        # Typed as Any: redis-py's stubs cannot tell that decode_responses gives str.
        self.redis: Any = connect(self.place, retry_seconds)
        self.wait_replicas = wait_replicas
        self.wait_timeout = wait_timeout
        self.prefix = prefix
        self._scripts = {
            name: self.redis.register_script(source)
            for name, source in (
                ("claim", CLAIM),
                ("begin", BEGIN),
                ("finish", FINISH),
                ("retry", RETRY),
                ("release", RELEASE),
                ("reap", REAP),
                ("followed_up", FOLLOWED_UP),
                ("requeue", REQUEUE),
                ("sync", SYNC),
                ("schedule", SCHEDULE),
                ("revise", REVISE),
                ("swap", SWAP),
                ("put_once", PUT_ONCE),
                ("settle", SETTLE),
                ("cancel", CANCEL),
                ("rewrite", REWRITE),
                ("delete_plan", DELETE_PLAN),
                ("take_slot", TAKE_SLOT),
                ("narrow_slot", NARROW_SLOT),
            )
        }

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _item(self, key: str) -> str:
        return self._key("item", key)

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return self._scripts[name](keys=keys, args=[_text(a) for a in args])

    def close(self) -> None:
        self.redis.close()

    # -- plans ---------------------------------------------------------------------------

    def plan(self, plan_id: str) -> PlanRecord | None:
        row: dict[str, str] = self.redis.hgetall(self._key("plan", plan_id))
        if not row:
            return None
        horizon = row.get("horizon")
        return PlanRecord(
            row["plan_id"],
            row["text"],
            row["digest"],
            float(row["updated"]),
            row.get("source", ""),
            float(horizon) if horizon else None,
        )

    def plan_digest(self, plan_id: str) -> str | None:
        digest = self.redis.hget(self._key("plan", plan_id), "digest")
        return str(digest) if digest else None

    def plan_digests(self, plan_ids: list[str]) -> dict[str, str]:
        pipe = self.redis.pipeline(transaction=False)
        for plan_id in plan_ids:
            pipe.hget(self._key("plan", plan_id), "digest")
        answers = pipe.execute() if plan_ids else []
        return {p: str(d) for p, d in zip(plan_ids, answers, strict=True) if d}

    def plan_ids(self) -> list[str]:
        return sorted(self.redis.smembers(self._key("plans")))

    def sync(self, record: PlanRecord, items: list[Item], now: float, grace: float) -> SyncResult:
        rows = [self._flat(item) for item in items]
        keys = [
            self._key("plan", record.plan_id),
            self._key("plans"),
            self._key("plankeys", record.plan_id),
            self._key("planitems", record.plan_id),
            self._key("due"),
            self._key("lease"),
        ]
        args = [
            record.plan_id,
            record.text,
            record.digest,
            record.updated,
            record.source,
            now,
            grace,
            json.dumps(rows),
            self._key("item", ""),
            record.horizon,
        ]
        added, removed, expired, kept = self._run("sync", keys, args)
        return SyncResult(list(added), list(removed), list(expired), int(kept))

    def _flat(self, item: Item) -> dict[str, str]:
        return {name: _text(value) for name, value in item.to_row().items()}

    # -- due index and ledger -------------------------------------------------------------

    def schedule(self, items: list[Item]) -> list[str]:
        if not items:
            return []
        rows = [self._flat(item) for item in items]
        added = self._run(
            "schedule",
            [self._key("due")],
            [json.dumps(rows), self._key("item", ""), self._key("planitems", "")],
        )
        return list(added)

    def claim(self, now: float, limit: int, lease: float) -> list[Claim]:
        token = uuid.uuid4().hex
        keys = self._run(
            "claim",
            [self._key("due"), self._key("lease")],
            [now, limit, now + lease, token, self._key("item", "")],
        )
        if not keys:
            return []
        found, kinds = keys
        return claims_of(found, token, kinds)

    def settle(self, claims: list[Claim], now: float, details: dict[str, str]) -> list[str]:
        settled: list[str] = []
        for token in dict.fromkeys(claim.token for claim in claims):
            keys = [claim.key for claim in claims if claim.token == token]
            args = [
                token,
                now,
                self._key("item", ""),
                *(details.get(k, "") for k in keys),
                self._key("lease"),
            ]
            settled.extend(self._run("settle", keys, args))
        return settled

    def get_many(self, keys: list[str]) -> list[Item]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._item(key))
        return [Item.from_row(row) for row in pipe.execute() if row]

    def begin(self, claim: Claim, now: float, lease: float) -> Item | None:
        keys = [self._item(claim.key), self._key("lease")]
        args = [claim.token, now + lease, claim.key]
        if self.wait_replicas:
            flat = self._begin_on_replicas(claim, keys, args, now)
        else:
            flat = self._run("begin", keys, args)
        if not flat:
            return None
        return Item.from_row(dict(zip(flat[::2], flat[1::2], strict=True)))

    def _begin_on_replicas(self, claim: Claim, keys: list[str], args: list[Any], now: float) -> Any:
        """``begin``, then WAIT on the same connection until the replicas hold ``sending``.

        Replication is asynchronous: a ``sending`` mark only the primary held is gone after a
        failover, the item is ``claimed`` or ``due`` again there, and it would go out a second
        time on any channel. Held by a replica, it survives: at worst it is reaped into
        ``unknown`` and re-sent only where the channel de-duplicates. When the replicas do not
        confirm in time, nothing goes out now: the item goes back to the due index (not
        counted as an attempt) and is tried again after ``UNCONFIRMED_DELAY``.
        """
        pipe = self.redis.pipeline(transaction=False)
        self._scripts["begin"](keys=keys, args=[_text(a) for a in args], client=pipe)
        pipe.execute_command("WAIT", self.wait_replicas, int(self.wait_timeout * 1000))
        flat, confirmed = pipe.execute()
        if not flat or int(confirmed) >= self.wait_replicas:
            return flat
        log.warning(
            "Redis: %d of %d replicas confirmed the start of a delivery within %g s: %s waits "
            "%g s (docs/redis-ha.md)",
            int(confirmed),
            self.wait_replicas,
            self.wait_timeout,
            claim.key,
            UNCONFIRMED_DELAY,
        )
        self.retry(claim, now + UNCONFIRMED_DELAY, "waiting for a Redis replica", counted=False)
        return None

    def finish(
        self,
        claim: Claim,
        state: str,
        now: float,
        detail: str = "",
        subject: str = "",
        channel: str | None = None,
        follow_up: str = "",
    ) -> bool:
        assert state in ("sent", "failed", "unknown")
        return bool(
            self._run(
                "finish",
                [self._item(claim.key), self._key("lease"), self._key("followup")],
                [claim.token, state, detail, subject, now, channel, claim.key, follow_up],
            )
        )

    def retry(
        self,
        claim: Claim,
        due: float,
        detail: str,
        channel: str | None = None,
        *,
        counted: bool = True,
    ) -> bool:
        keys = [self._item(claim.key), self._key("lease"), self._key("due")]
        args = [claim.token, due, detail, channel, claim.key, int(counted)]
        return bool(self._run("retry", keys, args))

    def release(self, claim: Claim) -> bool:
        keys = [self._item(claim.key), self._key("lease"), self._key("due")]
        return bool(self._run("release", keys, [claim.token, claim.key]))

    def reap(self, now: float, limit: int = 1000) -> ReapResult:
        returned, unknown = self._run(
            "reap",
            [self._key("lease"), self._key("due"), self._key("followup")],
            [now, limit, self._key("item", "")],
        )
        return ReapResult(list(returned), list(unknown))

    def follow_ups(self, limit: int = 1000) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for key, mark in self.redis.hscan_iter(self._key("followup"), count=limit):
            found.append((key, mark))
            if len(found) >= limit:
                break
        return sorted(found)

    def followed_up(self, key: str, mark: str) -> bool:
        return bool(self._run("followed_up", [self._key("followup")], [key, mark]))

    def requeue(self, key: str, expect: str, due: float, detail: str) -> bool:
        return bool(
            self._run("requeue", [self._item(key), self._key("due")], [expect, due, detail, key])
        )

    def get(self, key: str) -> Item | None:
        row = self.redis.hgetall(self._item(key))
        return Item.from_row(row) if row else None

    def items(self, plan_id: str, states: tuple[str, ...] | None = None) -> list[Item]:
        keys = sorted(self.redis.smembers(self._key("planitems", plan_id)))
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._item(key))
        found = [Item.from_row(row) for row in pipe.execute() if row]
        if states:
            found = [item for item in found if item.state in states]
        return sorted(found, key=lambda item: (item.due, item.key))

    def counts(self, plan_id: str | None = None) -> dict[str, int]:
        plans = [plan_id] if plan_id is not None else self.plan_ids()
        counts: dict[str, int] = {}
        for one in plans:
            keys = list(self.redis.smembers(self._key("planitems", one)))
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hget(self._item(key), "state")
            for state in pipe.execute():
                if state:
                    counts[state] = counts.get(state, 0) + 1
        return counts

    def next_due(self, limit: int, plan_id: str | None = None) -> list[Item]:
        if plan_id is not None:
            # One plan's items, not a walk along the whole due index: the cost of a
            # status page follows the plan, not the number of plans in the store.
            return self.items(plan_id, ("due",))[:limit]
        found: list[Item] = []
        start, page = 0, max(limit, 100)
        while len(found) < limit:
            keys = self.redis.zrange(self._key("due"), start, start + page - 1)
            if not keys:
                break
            for key in keys:
                item = self.get(key)
                if item:
                    found.append(item)
            start += page
        return found[:limit]

    def next_due_time(self) -> float | None:
        first = self.redis.zrange(self._key("due"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    # -- pacing -----------------------------------------------------------------------------

    def take_slot(self, paces: list[Pace], now: float, key: str) -> float:
        keys = [self._key("pace", pace.bucket) for pace in paces]
        rules = [part for pace in paces for part in (pace.interval, pace.burst)]
        at = self._run("take_slot", keys, [now, key, WIDEN_KEEP, PACE_IDLE, *rules])
        return float(at)

    def narrow_slot(self, paces: list[Pace], now: float, hold_until: float, factor: float) -> None:
        keys = [self._key("pace", pace.bucket) for pace in paces]
        intervals = [pace.interval for pace in paces]
        args = [now, hold_until, factor, NARROW_CAP, PACE_IDLE, *intervals]
        self._run("narrow_slot", keys, args)

    # -- calendar revisions ---------------------------------------------------------------

    def revise(self, uid: str, digest: str) -> tuple[int, bool]:
        sequence, changed = self._run("revise", [self._key("rev", uid)], [digest])
        return int(sequence), bool(changed)

    def revise_all(self, pairs: list[tuple[str, str]]) -> list[tuple[int, bool]]:
        if not pairs:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for uid, digest in pairs:
            self._scripts["revise"](keys=[self._key("rev", uid)], args=[digest], client=pipe)
        return [(int(sequence), bool(changed)) for sequence, changed in pipe.execute()]

    def revision(self, uid: str) -> tuple[int, str] | None:
        row = self.redis.hgetall(self._key("rev", uid))
        return (int(row["sequence"]), row["digest"]) if row else None

    # -- records and once-flags ------------------------------------------------------------

    def put_record(
        self, collection: str, record_id: str, data: dict[str, Any], only_if_absent: bool = False
    ) -> bool:
        key, text = self._key("rec", collection), _dumps(data)
        if only_if_absent:
            return bool(self.redis.hsetnx(key, record_id, text))
        self.redis.hset(key, record_id, text)
        return True

    def put_records(
        self, records: dict[str, dict[str, dict[str, Any]]], only_if_absent: bool = False
    ) -> dict[str, list[str]]:
        pipe = self.redis.pipeline(transaction=False)
        order = []
        for collection, entries in records.items():
            key = self._key("rec", collection)
            for record_id, data in entries.items():
                order.append((collection, record_id))
                if only_if_absent:
                    pipe.hsetnx(key, record_id, _dumps(data))
                else:
                    pipe.hset(key, record_id, _dumps(data))
        written: dict[str, list[str]] = {}
        for (collection, record_id), answer in zip(order, pipe.execute(), strict=True):
            if answer or not only_if_absent:
                written.setdefault(collection, []).append(record_id)
        return written

    def records_of(self, collections: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        pipe = self.redis.pipeline(transaction=False)
        for collection in collections:
            pipe.hgetall(self._key("rec", collection))
        return {
            collection: {rid: _loads(text) for rid, text in sorted(rows.items())}
            for collection, rows in zip(collections, pipe.execute(), strict=True)
        }

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        text = self.redis.hget(self._key("rec", collection), record_id)
        return _loads(text) if text else None

    def put_record_once(
        self, collection: str, record_id: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        there = self._run("put_once", [self._key("rec", collection)], [record_id, _dumps(data)])
        return _loads(there) if there else None

    def update_record(
        self,
        collection: str,
        record_id: str,
        expect: dict[str, Any],
        changes: dict[str, Any],
        seen: dict[str, Any] | None = None,
    ) -> bool:
        key = self._key("rec", collection)
        for attempt in range(50):
            if attempt == 0 and seen is not None:
                # The caller's copy, written back as it was stored: if it is still the
                # record, the swap below takes it without reading it again.
                old, data = _dumps(seen), dict(seen)
            else:
                old = self.redis.hget(key, record_id)
                if old is None:
                    return False
                data = _loads(old)
            if any(data.get(name) != value for name, value in expect.items()):
                if attempt == 0 and seen is not None:
                    continue  # the hint may be stale: decide on the record as it is
                return False
            data.update(changes)
            # Swap only if nobody changed the record since we read it; else read again.
            if self._run("swap", [key], [record_id, old, _dumps(data)]):
                return True
        raise RuntimeError(f"record {collection}/{record_id} kept changing; gave up")

    def records(self, collection: str) -> dict[str, dict[str, Any]]:
        rows = self.redis.hgetall(self._key("rec", collection))
        return {record_id: _loads(text) for record_id, text in sorted(rows.items())}

    def once(self, name: str) -> bool:
        return bool(self.redis.set(self._key("once", name), "1", nx=True))

    # -- erasure ------------------------------------------------------------------------

    def cancel(self, keys: list[str]) -> list[str]:
        cancelled: list[str] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            cancelled += self._run(
                "cancel",
                [self._key("due"), self._key("lease")],
                [self._key("item", ""), *chunk],
            )
        return cancelled

    def rewrite(self, items: list[Item]) -> list[str]:
        rewritten = []
        for item in items:
            if item.state in OPEN_STATES:
                continue
            fields = self._flat(item)
            pairs = [
                part
                for name, value in fields.items()
                if name not in ("key", "plan_id", "state")
                for part in (name, value)
            ]
            if self._run("rewrite", [self._item(item.key)], [item.plan_id, item.state, *pairs]):
                rewritten.append(item.key)
        return rewritten

    def delete_plan(self, plan_id: str) -> int:
        keys = [
            self._key("plan", plan_id),
            self._key("plans"),
            self._key("plankeys", plan_id),
            self._key("planitems", plan_id),
            self._key("due"),
            self._key("lease"),
            self._key("followup"),
        ]
        return int(self._run("delete_plan", keys, [plan_id, self._key("item", "")]))

    def delete_records(self, collection: str, record_ids: list[str] | None = None) -> int:
        key = self._key("rec", collection)
        if record_ids is None:
            removed = int(self.redis.hlen(key))
            self.redis.delete(key)
            return removed
        if not record_ids:
            return 0
        return int(self.redis.hdel(key, *record_ids))

    def compact(self) -> None:
        """Deleted keys leave Redis' memory at once; an append-only file still holds them
        until it is rewritten, so ask for that rewrite when AOF is on (the next snapshot
        replaces an RDB file the same way). A server that refuses (a managed Redis may)
        rewrites on its own schedule."""
        try:
            if self.redis.info("persistence").get("aof_enabled"):
                self.redis.bgrewriteaof()
        except redis.ResponseError:
            pass

    def flush(self) -> None:
        """Delete every key under this store's prefix (tests and benchmarks)."""
        for key in self.redis.scan_iter(match=self.prefix + "*", count=1000):
            self.redis.delete(key)


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def store_for(settings: Settings) -> RedisStore:
    """The store the settings name: URL, TLS files, Sentinels, and WAIT (docs/redis-ha.md)."""
    place = place_of(settings)
    return RedisStore(
        place.url,
        prefix=settings.redis_prefix,
        place=place,
        wait_replicas=settings.redis_wait,
        wait_timeout=settings.redis_wait_timeout,
    )
