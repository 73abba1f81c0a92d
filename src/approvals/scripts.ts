/**
 * Lua scripts for every state change. Redis runs a script without interleaving any other command,
 * so two approvers racing, an approval racing expiry, or two gateways executing the same approval
 * each end in exactly one outcome, whichever process gets there first.
 *
 * Times come from the caller (ARGV) rather than Redis TIME so the clock can be injected; gateways
 * are expected to keep their clocks in sync (NTP) as they already must for token expiry.
 */

/**
 * Finds the open request for an identity+target+statement or creates one.
 *
 * KEYS: match, pending, index, new request. ARGV: now, new id, request key prefix, key TTL (ms),
 * changes channel, reuse ('1' to look for an open request first), then field/value pairs.
 * Returns {'created', id} | {'pending', id} | {'executed', id}.
 */
export const OPEN_REQUEST = `
local now = tonumber(ARGV[1])
if ARGV[6] == '1' then
  local id = redis.call('GET', KEYS[1])
  if id then
    local rk = ARGV[3] .. id
    local st = redis.call('HGET', rk, 'state')
    if st == 'approved' then
      local by = tonumber(redis.call('HGET', rk, 'executeBy'))
      if by and now < by then
        -- An approval releases the statement once: it is consumed here, in the same step that
        -- finds it, so a second identical statement cannot ride on the same approval.
        redis.call('HSET', rk, 'state', 'executed', 'executedAt', ARGV[1])
        redis.call('DEL', KEYS[1])
        redis.call('PUBLISH', ARGV[5], id)
        return {'executed', id}
      end
    elseif st == 'pending' then
      local exp = tonumber(redis.call('HGET', rk, 'expiresAt'))
      if exp and now < exp then
        return {'pending', id}
      end
      redis.call('HSET', rk, 'state', 'expired', 'decidedAt', ARGV[1])
      redis.call('ZREM', KEYS[2], id)
      redis.call('PUBLISH', ARGV[5], id)
    end
    redis.call('DEL', KEYS[1])
  end
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('PEXPIRE', KEYS[4], ARGV[4])
local exp = tonumber(redis.call('HGET', KEYS[4], 'expiresAt'))
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], exp, ARGV[2])
redis.call('ZADD', KEYS[3], now, ARGV[2])
return {'created', ARGV[2]}
`;

/**
 * Moves a request to approved, denied, expired or executed.
 *
 * KEYS: request, pending. ARGV: now, target state, by, byIssuer, reason, executeBy, changes channel,
 * key TTL after the change (ms). Returns {'ok', state} | {'conflict', state} | {'missing'}.
 */
export const DECIDE_REQUEST = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
local now = tonumber(ARGV[1])
local to = ARGV[2]
local id = redis.call('HGET', KEYS[1], 'id')
local mk = redis.call('HGET', KEYS[1], 'matchKey')
local function release_match()
  if mk and redis.call('GET', mk) == id then redis.call('DEL', mk) end
end
if to == 'executed' then
  if st ~= 'approved' then return {'conflict', st} end
  local by = tonumber(redis.call('HGET', KEYS[1], 'executeBy'))
  if not by or now >= by then return {'conflict', 'lapsed'} end
  redis.call('HSET', KEYS[1], 'state', 'executed', 'executedAt', ARGV[1])
  release_match()
  redis.call('PUBLISH', ARGV[7], id)
  return {'ok', 'executed'}
end
if st ~= 'pending' then return {'conflict', st} end
local exp = tonumber(redis.call('HGET', KEYS[1], 'expiresAt'))
if now >= exp then
  -- A decision that arrives after the deadline loses to expiry, so every process that looks
  -- later sees the same outcome.
  redis.call('HSET', KEYS[1], 'state', 'expired', 'decidedAt', ARGV[1])
  redis.call('ZREM', KEYS[2], id)
  release_match()
  redis.call('PUBLISH', ARGV[7], id)
  if to == 'expired' then return {'ok', 'expired'} end
  return {'conflict', 'expired'}
end
if to == 'expired' then return {'conflict', 'pending'} end
redis.call('HSET', KEYS[1], 'state', to, 'decidedBy', ARGV[3], 'decidedByIssuer', ARGV[4],
  'decidedAt', ARGV[1])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'decisionReason', ARGV[5]) end
if to == 'approved' then
  redis.call('HSET', KEYS[1], 'executeBy', ARGV[6])
  local ttl = tonumber(ARGV[8])
  if ttl and redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
    if mk then redis.call('PEXPIRE', mk, ttl) end
  end
else
  release_match()
end
redis.call('ZREM', KEYS[2], id)
redis.call('PUBLISH', ARGV[7], id)
return {'ok', to}
`;

/** Sets one field of a request that exists (never creates a partial hash). KEYS: request. ARGV: field, value. */
export const SET_IF_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;
