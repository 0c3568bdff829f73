"""Rights: fingerprints (存证), registrations with review and 公示, certificates, pledges."""
