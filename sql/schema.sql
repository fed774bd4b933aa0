sqlite schema placeholder
