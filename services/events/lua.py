"""Lua scripts the event store runs in Redis: each does in one command what would otherwise be
dozens of commands or round trips per article. No state of their own; keys and arguments are the
caller's (services/events/store.py).
"""

# Many small writes as one command each: an article touches ~100 counters and ~30 postings, and
# one command per write would cost more than all the scoring. ARGV: the key's TTL, field, increment...
HINCRBY_MANY = """
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 0
"""
# Document frequencies summed over the days' keys (documents, terms, entities per day) on the
# server, so each term is sent once rather than once per day. ARGV: number of terms, terms, entities.
SUM_FREQUENCIES = """
local n_terms = tonumber(ARGV[1])
local terms, entities = {}, {}
for i = 2, n_terms + 1 do terms[#terms + 1] = ARGV[i] end
for i = n_terms + 2, #ARGV do entities[#entities + 1] = ARGV[i] end
local documents, term_sums, entity_sums = 0, {}, {}
for i = 1, #terms do term_sums[i] = 0 end
for i = 1, #entities do entity_sums[i] = 0 end
for d = 1, #KEYS, 3 do
  documents = documents + (tonumber(redis.call('GET', KEYS[d])) or 0)
  if #terms > 0 then
    local values = redis.call('HMGET', KEYS[d + 1], unpack(terms))
    for i = 1, #terms do term_sums[i] = term_sums[i] + (tonumber(values[i]) or 0) end
  end
  if #entities > 0 then
    local values = redis.call('HMGET', KEYS[d + 2], unpack(entities))
    for i = 1, #entities do entity_sums[i] = entity_sums[i] + (tonumber(values[i]) or 0) end
  end
end
local out = {documents}
for i = 1, #terms do out[#out + 1] = term_sums[i] end
for i = 1, #entities do out[#out + 1] = entity_sums[i] end
return out
"""
# Each posting's most recent events with their scores, in ZREVRANGE order, ARGV[1] deep.
RECENT_POSTINGS = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('ZREVRANGE', KEYS[i], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES') end
return out
"""
# Events' stored versions, and the records of those the caller holds no copy of at that version.
# KEYS: the events' record keys, then the versions hash. ARGV: event id and the version the caller
# holds ('' for none), for each event. Returns a version ('' when the event is not in hot state)
# and a record ('' when not needed) per event.
CHANGED_RECORDS = """
local out, versions = {}, KEYS[#KEYS]
for i = 1, #KEYS - 1 do
  local version = redis.call('HGET', versions, ARGV[2 * i - 1]) or ''
  out[#out + 1] = version
  if version ~= '' and version ~= ARGV[2 * i] then
    out[#out + 1] = redis.call('GET', KEYS[i]) or ''
  else
    out[#out + 1] = ''
  end
end
return out
"""
# Changes to the inverted index: a batch's, or a retired event's removals. ARGV: event id, score
# ('' to remove) for each key in turn.
FILE_POSTINGS = """
for i = 1, #KEYS do
  local event, score = ARGV[2 * i - 1], ARGV[2 * i]
  if score == '' then redis.call('ZREM', KEYS[i], event) else redis.call('ZADD', KEYS[i], score, event) end
end
return 0
"""
SET_EACH_WITH_TTL = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
return 0
"""
