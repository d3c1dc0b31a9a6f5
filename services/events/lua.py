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
# The events filed most often under the given postings (each read up to ARGV[1] deep), most hits
# first, ties by id, at most ARGV[2] of them, each with its version from the hash that is the last
# key. Grouped by hit count and sorted with Lua's own string order rather than one comparator over
# everything: with crowded postings that sort was the cost.
MOST_POSTED = """
local hits, most = {}, 0
for i = 1, #KEYS - 1 do
  for _, member in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, tonumber(ARGV[1]) - 1)) do
    local count = (hits[member] or 0) + 1
    hits[member] = count
    if count > most then most = count end
  end
end
local by_hits = {}
for member, count in pairs(hits) do
  by_hits[count] = by_hits[count] or {}
  table.insert(by_hits[count], member)
end
local chosen, limit = {}, tonumber(ARGV[2])
for count = most, 1, -1 do
  local members = by_hits[count]
  if members and #chosen < limit then
    table.sort(members)
    for _, member in ipairs(members) do
      if #chosen == limit then break end
      chosen[#chosen + 1] = member
    end
  end
end
local out = {}
for _, member in ipairs(chosen) do
  out[#out + 1] = member
  out[#out + 1] = redis.call('HGET', KEYS[#KEYS], member) or ''
end
return out
"""
ZADD_TO_EACH = """
for i = 1, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2]) end
return 0
"""
ZREM_FROM_EACH = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 0
"""
SET_EACH_WITH_TTL = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
return 0
"""
