-- The name an owner gives a camera in the apps. A camera's `name` is what its hub signs in
-- every clip statement (and what devices check a listing against), so it never changes; the
-- label is only shown, in its place, by the owner's apps. NULL: show the name.
ALTER TABLE cameras ADD COLUMN label TEXT;
