-- Argo CD health check for foundry.agents.dev/FoundryProject and ClusterFoundryProject.
--
-- Install it under both argocd-cm keys
--   resource.customizations.health.foundry.agents.dev_FoundryProject
--   resource.customizations.health.foundry.agents.dev_ClusterFoundryProject
-- (examples/argocd/argocd-cm.yaml carries this file verbatim under each).
--
--   Healthy      Ready=True for the current generation: a token was obtained with the
--                project's credential and a read of the project succeeded.
--   Degraded     Degraded=True for the current generation: the credential is refused, the
--                endpoint is wrong, the spec is invalid. The message says what to do.
--   Progressing  everything else: not checked yet, a Secret or the identity endpoint not
--                there yet (retried), deletion.
--
-- Like health.lua, it uses no string or math library (Argo CD's sandbox has none).

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

local function explain(c, fallback)
  local reason = fallback
  if c ~= nil and c.reason ~= nil then
    reason = c.reason
  end
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local meta = obj.metadata or {}
local status = obj.status
if meta.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting"
  return hs
end
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the foundry-agent-operator to check the project (is it running?)"
  return hs
end

local ready = find(status.conditions, "Ready")
local degraded = find(status.conditions, "Degraded")
if not same(status.observedGeneration, meta.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check generation " .. tostring(meta.generation)
  return hs
end
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = explain(degraded, "Degraded")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Connected to " .. tostring(status.endpoint)
  return hs
end
hs.status = "Progressing"
hs.message = explain(ready, status.phase or "Progressing")
return hs
