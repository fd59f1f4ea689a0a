-- Argo CD health check for foundry.agents.dev/HostedAgent.
--
-- Install it under the argocd-cm key
--   resource.customizations.health.foundry.agents.dev_HostedAgent
-- (examples/argocd/argocd-cm.yaml carries this file verbatim; see examples/argocd/README.md).
--
--   Healthy      Ready=True, and both status.observedGeneration and the Ready condition's
--                observedGeneration equal metadata.generation: the current spec is serving.
--   Degraded     Degraded=True for the current generation: only a person can fix it (image
--                pull, invalid spec, missing Secret, agent name conflict, ...). The message
--                is the reason, what happened and what to do.
--   Progressing  everything else: no status yet, a spec the operator has not acted on yet,
--                a version being created, traffic moving, transient errors being retried
--                (Throttled, FoundryUnavailable), and deletion.
--   Suspended    spec.suspend holds the agent disabled in Foundry (phase Suspended, Ready
--                reason Suspended) for the current generation: it serves nothing, by request;
--                or spec.managementPolicy is Paused (condition Paused=True): the operator
--                makes no Foundry call for it, by request.
-- Missing is never returned (Argo CD itself reports Missing).
--
-- Argo CD runs custom checks without the string and math libraries, so this script uses
-- only plain comparisons, tostring and '..'.

local hs = {}

local function same(a, b)
  return a ~= nil and b ~= nil and tostring(a) == tostring(b)
end

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- "Reason: message" of a condition. A condition without a message (an older operator, a
-- hand-made status) borrows status.lastError's message and remediation.
local function explain(c, fallback, status)
  local reason = fallback
  if c ~= nil and c.reason ~= nil then
    reason = c.reason
  end
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  local err = status.lastError
  if err == nil then
    return reason
  end
  local text = reason
  if err.message ~= nil and err.message ~= "" then
    text = text .. ": " .. err.message
  end
  if err.remediation ~= nil and err.remediation ~= "" then
    text = text .. " Remediation: " .. err.remediation
  end
  return text
end

local meta = obj.metadata or {}
local generation = meta.generation
local status = obj.status

if status == nil or (status.phase == nil and status.conditions == nil) then
  hs.status = "Progressing"
  if meta.deletionTimestamp ~= nil then
    hs.message = "Deleting"
  else
    hs.message = "Waiting for the foundry-agent-operator to report status (is it running?)"
  end
  return hs
end

local ready = find(status.conditions, "Ready")
local degraded = find(status.conditions, "Degraded")
local current = same(status.observedGeneration, generation)
local degraded_now = degraded ~= nil and degraded.status == "True"
  and current and same(degraded.observedGeneration, generation)

if meta.deletionTimestamp ~= nil or status.phase == "Deleting" then
  if degraded_now then
    hs.status = "Degraded"
    hs.message = "Deletion blocked: " .. explain(degraded, "Degraded", status)
    return hs
  end
  hs.status = "Progressing"
  hs.message = "Deleting the agent's Foundry versions"
  if ready ~= nil and ready.reason ~= nil and ready.reason ~= "Deleting" then
    hs.message = hs.message .. " (" .. explain(ready, "Deleting", status) .. ")"
  end
  return hs
end

local paused = find(status.conditions, "Paused")
if current and paused ~= nil and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = explain(paused, "Paused", status)
  return hs
end

if not current then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation)
    .. " (status describes generation " .. tostring(status.observedGeneration) .. ")"
  return hs
end

if degraded_now then
  hs.status = "Degraded"
  hs.message = explain(degraded, "Degraded", status)
  return hs
end

if ready ~= nil and not same(ready.observedGeneration, generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report generation " .. tostring(generation)
    .. " (Ready describes generation " .. tostring(ready.observedGeneration) .. ")"
  return hs
end

if status.phase == "Suspended" and ready ~= nil and ready.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = explain(ready, "Suspended", status)
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  if status.servingVersion ~= nil then
    hs.message = "Version " .. tostring(status.servingVersion) .. " of agent "
      .. tostring(status.agentName or meta.name) .. " is serving"
  else
    hs.message = explain(ready, "Ready", status)
  end
  return hs
end

if status.phase == "Failed" then
  -- Failed without Degraded=True should not happen; never call it healthy or progressing.
  hs.status = "Degraded"
  hs.message = explain(ready, "Failed", status)
  return hs
end

hs.status = "Progressing"
hs.message = explain(ready, status.phase or "Progressing", status)
return hs
